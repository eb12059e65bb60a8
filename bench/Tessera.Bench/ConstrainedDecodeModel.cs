using Tessera.Formats;
using Tessera.Formats.Gguf;

namespace Tessera.Bench;

/// <summary>A random-weight LLaMA of the llama2.c 110M shape (dim 768, 12 layers, 12 heads, FFN 2048) written as f32
/// GGUF with a generated 32000-token SentencePiece vocabulary: unk, BOS, EOS, the 256 byte tokens, every printable
/// ASCII character with and without the word-start mark, JSON punctuation runs, numbers, then letter strings of 2 to 8
/// characters (with and without the mark) until 32000. Shared prefixes and mixed punctuation make the grammar's trie
/// walk about as long as a real vocabulary's.</summary>
internal static class ConstrainedDecodeModel
{
    public const int Vocab = 32000;

    public static void Write(string path, int seed, int context = 1024)
    {
        const int dim = 768, layers = 12, heads = 12, ffn = 2048;
        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.From("llama"))
            .Add("general.name", GgufValue.From("random-llama-110m"))
            .Add("llama.context_length", GgufValue.From((uint)context))
            .Add("llama.embedding_length", GgufValue.From((uint)dim))
            .Add("llama.block_count", GgufValue.From((uint)layers))
            .Add("llama.feed_forward_length", GgufValue.From((uint)ffn))
            .Add("llama.attention.head_count", GgufValue.From((uint)heads))
            .Add("llama.attention.head_count_kv", GgufValue.From((uint)heads))
            .Add("llama.rope.dimension_count", GgufValue.From((uint)(dim / heads)))
            .Add("llama.rope.freq_base", GgufValue.From(10000f))
            .Add("llama.attention.layer_norm_rms_epsilon", GgufValue.From(1e-5f));
        var (tokens, types) = Vocabulary(seed);
        w.Add("tokenizer.ggml.model", GgufValue.From("llama"))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(tokens))
            .Add("tokenizer.ggml.scores", GgufValue.Array(Enumerable.Range(0, Vocab).Select(i => (float)-i).ToArray()))
            .Add("tokenizer.ggml.token_type", GgufValue.Array(types))
            .Add("tokenizer.ggml.bos_token_id", GgufValue.From(1u))
            .Add("tokenizer.ggml.eos_token_id", GgufValue.From(2u));

        int n = 0;
        void Add(string name, params int[] shape)
        {
            int tensorSeed = seed * 1000 + n++;
            long[] dims = shape.Select(d => (long)d).ToArray();
            // Values are made when the writer asks for them, so that the 440 MB are never all in memory at once.
            w.AddTensor(name, GgmlTypes.FromDType(DType.F32), dims, () =>
            {
                var rng = new Random(tensorSeed);
                long count = dims.Aggregate(1L, (a, b) => a * b);
                float scale = shape.Length == 2 ? 1f / MathF.Sqrt(shape[1]) : 1f;
                var values = new float[count];
                for (long i = 0; i < count; i++) values[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
                if (shape.Length == 1) for (long i = 0; i < count; i++) values[i] = 1f + 0.2f * values[i];
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            });
        }
        Add("token_embd.weight", Vocab, dim);
        for (int i = 0; i < layers; i++)
        {
            string b = $"blk.{i}.";
            Add(b + "attn_norm.weight", dim);
            Add(b + "attn_q.weight", dim, dim);
            Add(b + "attn_k.weight", dim, dim);
            Add(b + "attn_v.weight", dim, dim);
            Add(b + "attn_output.weight", dim, dim);
            Add(b + "ffn_norm.weight", dim);
            Add(b + "ffn_gate.weight", ffn, dim);
            Add(b + "ffn_up.weight", ffn, dim);
            Add(b + "ffn_down.weight", dim, ffn);
        }
        Add("output_norm.weight", dim);
        Add("output.weight", Vocab, dim);
        w.Write(path);
    }

    private static (string[] Tokens, int[] Types) Vocabulary(int seed)
    {
        const string mark = "\u2581";
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { 2, 3, 3 };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            types.Add(6);
        }
        var seen = new HashSet<string>();
        void Piece(string s)
        {
            if (tokens.Count < Vocab && seen.Add(s))
            {
                tokens.Add(s);
                types.Add(1);
            }
        }
        for (char c = '!'; c <= '~'; c++)
        {
            Piece(c.ToString());
            Piece(mark + c);
        }
        foreach (string p in new[] { "{\"", "\":", "\",", "\"}", "\"]", "[\"", "},", "}]", "],", ", \"", ": \"", "\": \"", "\":\"", "\",\"", "{}", "[]", "null", "true", "false" })
        {
            Piece(p);
            Piece(mark + p);
        }
        for (int i = 0; i < 1000; i++) Piece(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var rng = new Random(seed);
        while (tokens.Count < Vocab)
        {
            int len = rng.Next(2, 9);
            var chars = new char[len];
            for (int i = 0; i < len; i++) chars[i] = (char)('a' + (int)(26 * Math.Pow(rng.NextDouble(), 1.5)));
            string word = new(chars);
            Piece(rng.Next(3) == 0 ? word : mark + word);
        }
        return ([.. tokens], [.. types]);
    }
}
