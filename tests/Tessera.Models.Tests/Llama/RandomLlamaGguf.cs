using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;

namespace Tessera.Models.Tests.Llama;

/// <summary>The shape of a random decoder written as GGUF.</summary>
public sealed record RandomLlamaShape(string Arch, int Dim, int Layers, int Heads, int KvHeads, int Ffn, int Vocab, int Context = 256)
{
    /// <summary>Odd sizes, GQA 6/2, head dim 12.</summary>
    public static RandomLlamaShape LlamaGqa { get; } = new("llama", 72, 3, 6, 2, 100, 300);

    /// <summary>qwen2 (q/k/v biases, rotate-half RoPE), GQA 5/1, head dim 8.</summary>
    public static RandomLlamaShape Qwen2 { get; } = new("qwen2", 40, 2, 5, 1, 68, 280);

    /// <summary>Widths that are multiples of the 32-value blocks (Q8_0, Q4_0): GQA 6/2, head dim 16.</summary>
    public static RandomLlamaShape LlamaBlocks { get; } = new("llama", 96, 2, 6, 2, 160, 300);

    /// <summary>qwen2 in 32-value blocks: GQA 4/1, head dim 16.</summary>
    public static RandomLlamaShape Qwen2Blocks { get; } = new("qwen2", 64, 2, 4, 1, 96, 280);

    /// <summary>Widths that are multiples of the 256-value super-blocks (Q4_K): GQA 8/2, head dim 32.</summary>
    public static RandomLlamaShape LlamaSuperBlocks { get; } = new("llama", 256, 2, 8, 2, 512, 300);

    /// <summary>A shape by the name the tests use.</summary>
    public static RandomLlamaShape Named(string name) => name switch
    {
        "llama-gqa" => LlamaGqa,
        "qwen2" => Qwen2,
        "llama-blocks" => LlamaBlocks,
        "qwen2-blocks" => Qwen2Blocks,
        "llama-superblocks" => LlamaSuperBlocks,
        _ => throw new ArgumentException($"no random shape '{name}'"),
    };
}

/// <summary>Writes LLaMA-family GGUF files with random weights under llama.cpp's names and metadata, with a minimal
/// SentencePiece vocabulary (unk, BOS, EOS, the 256 byte tokens, then words) so that llama.cpp loads them.</summary>
public static class RandomLlamaGguf
{
    /// <summary>Writes the file; the weights are f32 or, for the 2-D projections, <paramref name="type"/> (the embedding,
    /// norms and biases stay f32, as llama.cpp's quantize leaves norms). <paramref name="tied"/> leaves output.weight out.</summary>
    public static void Write(string path, RandomLlamaShape s, int seed, DType type = DType.F32, bool tied = false, int? vocabTokens = null)
    {
        var rng = new Random(seed);
        int hd = s.Dim / s.Heads;
        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.From(s.Arch))
            .Add("general.name", GgufValue.From("random-" + s.Arch))
            .Add($"{s.Arch}.context_length", GgufValue.From((uint)s.Context))
            .Add($"{s.Arch}.embedding_length", GgufValue.From((uint)s.Dim))
            .Add($"{s.Arch}.block_count", GgufValue.From((uint)s.Layers))
            .Add($"{s.Arch}.feed_forward_length", GgufValue.From((uint)s.Ffn))
            .Add($"{s.Arch}.attention.head_count", GgufValue.From((uint)s.Heads))
            .Add($"{s.Arch}.attention.head_count_kv", GgufValue.From((uint)s.KvHeads))
            .Add($"{s.Arch}.rope.dimension_count", GgufValue.From((uint)hd))
            .Add($"{s.Arch}.rope.freq_base", GgufValue.From(10000f))
            .Add($"{s.Arch}.attention.layer_norm_rms_epsilon", GgufValue.From(1e-5f));
        RandomLlamaVocab.Add(w, vocabTokens ?? s.Vocab);

        void Add(string name, DType dtype, params int[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            // Scaled like a trained model's weights (about 1/sqrt(fan-in)) so that activations stay O(1).
            float scale = shape.Length == 2 ? 1f / MathF.Sqrt(shape[1]) : 1f;
            var values = new float[n];
            for (long i = 0; i < n; i++) values[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
            if (shape.Length == 1 && name.EndsWith("norm.weight", StringComparison.Ordinal))
                for (long i = 0; i < n; i++) values[i] = 1f + 0.2f * values[i];
            w.AddTensor(Tensor(name, dtype, shape, values));
        }
        Add("token_embd.weight", DType.F32, s.Vocab, s.Dim);
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"blk.{i}.";
            Add(b + "attn_norm.weight", DType.F32, s.Dim);
            Add(b + "attn_q.weight", type, s.Heads * hd, s.Dim);
            Add(b + "attn_k.weight", type, s.KvHeads * hd, s.Dim);
            Add(b + "attn_v.weight", type, s.KvHeads * hd, s.Dim);
            if (s.Arch == "qwen2")
            {
                Add(b + "attn_q.bias", DType.F32, s.Heads * hd);
                Add(b + "attn_k.bias", DType.F32, s.KvHeads * hd);
                Add(b + "attn_v.bias", DType.F32, s.KvHeads * hd);
            }
            Add(b + "attn_output.weight", type, s.Dim, s.Heads * hd);
            Add(b + "ffn_norm.weight", DType.F32, s.Dim);
            Add(b + "ffn_gate.weight", type, s.Ffn, s.Dim);
            Add(b + "ffn_up.weight", type, s.Ffn, s.Dim);
            Add(b + "ffn_down.weight", type, s.Dim, s.Ffn);
        }
        Add("output_norm.weight", DType.F32, s.Dim);
        if (!tied) Add("output.weight", type, s.Vocab, s.Dim);
        w.Write(path);
    }

    private static WeightTensor Tensor(string name, DType dtype, int[] shape, float[] values)
    {
        long[] dims = shape.Select(d => (long)d).ToArray();
        if (dtype == DType.F32) return WeightTensor.FromValues(name, dims, values);
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var f = Tessera.Tensor.FromArray(cpu, values, shape);
        using var q = BlockConversion.Convert(f, dtype, "random", name);   // ggml's reference quantizers
        var bytes = new byte[q.DType.ByteCount(q.ElementCount)];
        cpu.CopyToHost(q.Storage, q.DType.ByteCount(q.Offset), bytes);
        return WeightTensor.FromBytes(name, dtype, dims, bytes);
    }
}
