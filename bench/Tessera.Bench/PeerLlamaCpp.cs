using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Tessera.Bench;

/// <summary>The `peer llama` peer: llama.cpp 0.30 through LLamaSharp (its AVX-512 Linux build, copied to llamacpp/
/// beside the bench as the decoder tests copy it), on the same GGUF file with an F32 KV cache, flash attention off
/// and the given thread count for both prefill and decode.</summary>
internal sealed class PeerLlamaCpp : IDisposable
{
    private static readonly Lazy<string?> s_unavailable = new(Init);
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    /// <summary>Why llama.cpp cannot run here, or null when it can.</summary>
    public static string? Unavailable => s_unavailable.Value;

    public PeerLlamaCpp(string path, int context, int batch, int threads, bool halfKv = false)
    {
        if (Unavailable is { } why) throw new InvalidOperationException(why);
        var p = new ModelParams(path)
        {
            ContextSize = (uint)context, BatchSize = (uint)batch, UBatchSize = (uint)batch, GpuLayerCount = 0,
            Threads = threads, BatchThreads = threads,
            TypeK = halfKv ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32, TypeV = halfKv ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
    }

    /// <summary>Forgets the sequence (the next call starts at position 0).</summary>
    public void Reset() => _context.NativeHandle.MemoryClear();

    /// <summary>Runs <paramref name="tokens"/> at positions start.. in one batch, logits for the last only; returns
    /// the greedy next token.</summary>
    public int Step(ReadOnlySpan<int> tokens, int start)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], start + i, LLamaSeqId.Zero, i == tokens.Length - 1);
        var result = _context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode: {result}");
        return PeerLlama.ArgMax(_context.NativeHandle.GetLogitsIth(tokens.Length - 1));
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    private static string? Init()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "llama.cpp here is LLamaSharp's linux-x64 build";
        if (!Avx512F.IsSupported) return "llama.cpp here is LLamaSharp's AVX-512 build; this CPU has no AVX-512";
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
