using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Quant;

using Tessera.Models.Tests.Llama;

namespace Tessera.Bench;

/// <summary>A decoder shape of the `peer llama` bench, LLaMA-style with a SentencePiece vocabulary.</summary>
internal sealed record PeerLlamaShape(string Name, int Dim, int Layers, int Heads, int KvHeads, int Ffn, int Vocab)
{
    /// <summary>karpathy's llama2.c 110M (dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000).</summary>
    public static PeerLlamaShape Llama110M { get; } = new("llama-110m", 768, 12, 12, 12, 2048, 32000);

    /// <summary>TinyLlama-1.1B (dim 2048, 22 layers, 32 heads / 4 KV heads, ffn 5632, vocab 32000).</summary>
    public static PeerLlamaShape TinyLlama { get; } = new("tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000);

    public static PeerLlamaShape Named(string name) => name switch
    {
        "llama-110m" or "110m" => Llama110M,
        "tinyllama-1.1b" or "tinyllama" => TinyLlama,
        _ => throw new ArgumentException($"--shapes: no shape '{name}' (llama-110m, tinyllama-1.1b)"),
    };

    public int HeadDim => Dim / Heads;

    /// <summary>Bytes of KV cache (f32) for <paramref name="positions"/> positions.</summary>
    public long KvBytes(int positions) => 2L * Layers * KvHeads * HeadDim * positions * 4;
}

/// <summary>Writes the bench's GGUF files: random weights (uniform, scaled by 1/sqrt(fan-in) so activations stay O(1))
/// under llama.cpp's names and metadata, 2-D projections and the output head in the chosen type, the token embedding
/// and norms in f32 (llama.cpp's quantize keeps norms f32). Each tensor is generated and quantized (ggml's reference
/// quantizers) only when the writer asks for it, so a 1.1B-parameter file never sits in memory.</summary>
internal static class PeerLlamaGguf
{
    /// <summary>The file for (shape, type) under <paramref name="dir"/>, written unless it is already there.</summary>
    public static string Ensure(string dir, PeerLlamaShape s, DType type)
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{s.Name}-{type.Name()}.gguf");
        if (File.Exists(path)) return path;
        Console.Error.WriteLine($"writing {path} ...");
        string tmp = path + ".part";
        Build(s, type).Write(tmp);
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    /// <summary>Bytes of weights a decode step reads: every tensor but the token embedding, of which one row.</summary>
    public static long DecodeWeightBytes(PeerLlamaShape s, DType type)
    {
        long hd = s.HeadDim, d = s.Dim;
        long perLayer = type.ByteCount(d * s.Heads * hd) * 2 + type.ByteCount(d * s.KvHeads * hd) * 2
            + type.ByteCount(d * s.Ffn) * 3 + 2 * d * 4;
        return s.Layers * perLayer + d * 4 + type.ByteCount(d * s.Vocab) + d * 4;
    }

    private static GgufWriter Build(PeerLlamaShape s, DType type)
    {
        const string arch = "llama";
        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.From(arch))
            .Add("general.name", GgufValue.From("random-" + s.Name))
            .Add($"{arch}.context_length", GgufValue.From(2048u))
            .Add($"{arch}.embedding_length", GgufValue.From((uint)s.Dim))
            .Add($"{arch}.block_count", GgufValue.From((uint)s.Layers))
            .Add($"{arch}.feed_forward_length", GgufValue.From((uint)s.Ffn))
            .Add($"{arch}.attention.head_count", GgufValue.From((uint)s.Heads))
            .Add($"{arch}.attention.head_count_kv", GgufValue.From((uint)s.KvHeads))
            .Add($"{arch}.rope.dimension_count", GgufValue.From((uint)s.HeadDim))
            .Add($"{arch}.rope.freq_base", GgufValue.From(10000f))
            .Add($"{arch}.attention.layer_norm_rms_epsilon", GgufValue.From(1e-5f));
        RandomLlamaVocab.Add(w, s.Vocab);
        ulong seed = 1;
        void Add(string name, DType dtype, params int[] shape)
        {
            ulong tensorSeed = seed++;
            w.AddTensor(new WeightTensor(name, dtype, shape.Select(d => (long)d).ToArray(), () => Values(name, dtype, shape, tensorSeed)));
        }
        int hd = s.HeadDim;
        Add("token_embd.weight", DType.F32, s.Vocab, s.Dim);
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"blk.{i}.";
            Add(b + "attn_norm.weight", DType.F32, s.Dim);
            Add(b + "attn_q.weight", type, s.Heads * hd, s.Dim);
            Add(b + "attn_k.weight", type, s.KvHeads * hd, s.Dim);
            Add(b + "attn_v.weight", type, s.KvHeads * hd, s.Dim);
            Add(b + "attn_output.weight", type, s.Dim, s.Heads * hd);
            Add(b + "ffn_norm.weight", DType.F32, s.Dim);
            Add(b + "ffn_gate.weight", type, s.Ffn, s.Dim);
            Add(b + "ffn_up.weight", type, s.Ffn, s.Dim);
            Add(b + "ffn_down.weight", type, s.Dim, s.Ffn);
        }
        Add("output_norm.weight", DType.F32, s.Dim);
        Add("output.weight", type, s.Vocab, s.Dim);
        return w;
    }

    /// <summary>One tensor's bytes: rows generated (xorshift, seeded per tensor and row, so in parallel and still
    /// deterministic) and quantized a row at a time.</summary>
    private static ReadOnlyMemory<byte> Values(string name, DType dtype, int[] shape, ulong seed)
    {
        int rows = shape.Length == 2 ? shape[0] : 1, cols = shape[^1];
        float scale = shape.Length == 2 ? 1f / MathF.Sqrt(cols) : 1f;
        bool norm = shape.Length == 1 && name.EndsWith("norm.weight", StringComparison.Ordinal);
        long rowBytes = dtype.ByteCount(cols);
        var bytes = new byte[rowBytes * rows];
        Parallel.For(0, rows, () => new float[cols], (r, _, row) =>
        {
            ulong x = (seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)r + 1) * 0xD1B54A32D192ED03UL;
            for (int c = 0; c < cols; c++)
            {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                float u = (x >> 40) * (1f / (1 << 24)) * 2 - 1;
                row[c] = norm ? 1f + 0.2f * u : u * scale;
            }
            BlockQuant.Quantize(dtype, row, bytes.AsSpan((int)(r * rowBytes), (int)rowBytes));
            return row;
        }, _ => { });
        return bytes;
    }
}
