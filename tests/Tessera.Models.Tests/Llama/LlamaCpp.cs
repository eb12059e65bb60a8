using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Tessera.Models.Tests.Llama;

/// <summary>The oracle: llama.cpp 0.30 (LLamaSharp's AVX-512 Linux build, copied to llamacpp/ beside the tests) on the
/// same GGUF file, with an F32 KV cache and flash attention off, one thread. Tests skip with <see cref="Unavailable"/>.</summary>
public sealed class LlamaCpp : IDisposable
{
    private static readonly Lazy<string?> s_unavailable = new(Init);
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    /// <summary>Why llama.cpp cannot run here, or null when it can.</summary>
    public static string? Unavailable => s_unavailable.Value;

    /// <summary>Vocabulary size.</summary>
    public int Vocab { get; }

    /// <summary>Loads <paramref name="path"/> with a context of <paramref name="context"/> positions (an f32 KV cache, or
    /// f16 with <paramref name="halfKv"/>).</summary>
    public LlamaCpp(string path, int context = 256, bool hidden = false, bool halfKv = false)
    {
        if (Unavailable is { } why) throw new InvalidOperationException(why);
        var p = new ModelParams(path)
        {
            ContextSize = (uint)context, BatchSize = (uint)context, UBatchSize = (uint)context, Threads = 1, GpuLayerCount = 0,
            TypeK = halfKv ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32, TypeV = halfKv ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
            Embeddings = hidden, PoolingType = hidden ? LLamaPoolingType.None : LLamaPoolingType.Unspecified,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
        Vocab = _weights.Vocab.Count;
    }

    /// <summary>llama.cpp's ids for <paramref name="text"/> (BOS added as the model asks, special text not parsed).</summary>
    public int[] Tokenize(string text) => Tokenize(text, addBos: true, special: false);

    /// <summary>llama.cpp's ids for <paramref name="text"/>; <paramref name="special"/> parses control-token text.</summary>
    public int[] Tokenize(string text, bool addBos, bool special) => _context.Tokenize(text, addBos, special).Select(t => (int)t).ToArray();

    /// <summary>Runs <paramref name="tokens"/> at positions start.. in one batch and returns every position's logits.</summary>
    public float[][] Eval(IReadOnlyList<int> tokens, int start)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], start + i, LLamaSeqId.Zero, true);
        var result = _context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode: {result}");
        return Enumerable.Range(0, tokens.Count).Select(i => _context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>The final hidden states (after the output norm) of the last <see cref="Eval"/>'s positions, when the
    /// oracle was made with hidden: true.</summary>
    public float[] Hidden(int i) => _context.NativeHandle.GetEmbeddingsIth(i).ToArray();

    /// <summary>Forgets every cached position, so that the next <see cref="Eval"/> may start at 0 again.</summary>
    public void Reset() => _context.NativeHandle.MemoryClear(true);

    /// <summary>Runs input embeddings (one row of the model's width per position) at positions start.. in one batch,
    /// bypassing llama.cpp's token lookup; returns every position's logits.</summary>
    public float[][] EvalEmbeddings(IReadOnlyList<float[]> rows, int start)
    {
        var batch = new LLamaBatchEmbeddings(rows[0].Length);
        for (int i = 0; i < rows.Count; i++) batch.Add(rows[i], start + i, LLamaSeqId.Zero, true);
        var result = _context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode: {result}");
        return Enumerable.Range(0, rows.Count).Select(i => _context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>Frees the context and the model.</summary>
    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    private static string? Init()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "the llama.cpp oracle is LLamaSharp's linux-x64 build";
        if (!Avx512F.IsSupported) return "the llama.cpp oracle copied here is LLamaSharp's AVX-512 build; this CPU has no AVX-512";
        string dir = Path.Combine(AppContext.BaseDirectory, "llamacpp");
        string llama = Path.Combine(dir, "libllama.so");
        if (!File.Exists(llama)) return $"llama.cpp's libllama.so is absent from {dir} (LLamaSharp.Backend.Cpu not restored?)";
        try
        {
            // libllama finds its ggml libraries by soname: load them first from the same folder.
            foreach (var lib in new[] { "libggml-base.so", "libggml-cpu.so", "libggml.so" }) NativeLibrary.Load(Path.Combine(dir, lib));
            NativeLibraryConfig.All.WithLibrary(llama, Path.Combine(dir, "libmtmd.so")).WithLogCallback((level, message) => { });
            NativeApi.llama_empty_call();
            return null;
        }
        catch (Exception e)
        {
            return $"llama.cpp could not be loaded from {dir}: {e.GetType().Name}: {e.Message}";
        }
    }
}
