using System.Runtime.InteropServices;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>llama.cpp's own tokenizer (LLamaSharp 0.30, its portable noavx Linux build copied to llamacpp/ beside the
/// tests) on a vocabulary-only GGUF. Tests skip with <see cref="Unavailable"/>.</summary>
internal sealed class LlamaCppTokenizer : IDisposable
{
    private static readonly Lazy<string?> s_unavailable = new(Init);
    private static nint s_llama;
    private readonly LLamaWeights _weights;

    /// <summary>Why llama.cpp cannot run here, or null when it can.</summary>
    public static string? Unavailable => s_unavailable.Value;

    public LlamaCppTokenizer(string path)
    {
        if (Unavailable is { } why) throw new InvalidOperationException(why);
        _weights = LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true, GpuLayerCount = 0 });
    }

    /// <summary>llama_detokenize(remove_special: false, unparse_special: <paramref name="renderSpecial"/>), as bytes.</summary>
    public unsafe byte[] Detokenize(int[] ids, bool renderSpecial)
    {
        var getVocab = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(s_llama, "llama_model_get_vocab");
        var detokenize = (delegate* unmanaged<nint, int*, int, byte*, int, byte, byte, int>)NativeLibrary.GetExport(s_llama, "llama_detokenize");
        nint vocab = getVocab(_weights.NativeHandle.DangerousGetHandle());
        var buffer = new byte[ids.Length * 64 + 16];
        fixed (int* t = ids)
        fixed (byte* b = buffer)
        {
            int n = detokenize(vocab, t, ids.Length, b, buffer.Length, 0, renderSpecial ? (byte)1 : (byte)0);
            if (n < 0) throw new InvalidOperationException($"llama_detokenize needs {-n} bytes");
            return buffer[..n];
        }
    }

    /// <summary>llama_tokenize(add_special, parse_special: false).</summary>
    public int[] Tokenize(string text, bool addSpecial) =>
        [.. _weights.NativeHandle.Tokenize(text, addSpecial, false, Encoding.UTF8).Select(t => (int)t)];

    public void Dispose()
    {
        _weights.Dispose();
        // Hand llama.cpp's freed heap back to the OS: reused resident pages would hide the copies that the RssAnon
        // measurements of WeightBuilderMemoryTests (run later in this process) look for.
        malloc_trim(0);
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    private static string? Init()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "the llama.cpp oracle copied here is LLamaSharp's linux-x64 build";
        string dir = Path.Combine(AppContext.BaseDirectory, "llamacpp");
        string llama = Path.Combine(dir, "libllama.so");
        if (!File.Exists(llama)) return $"llama.cpp's libllama.so is absent from {dir} (LLamaSharp.Backend.Cpu not restored?)";
        try
        {
            // libllama finds its ggml libraries by soname: load them first from the same folder.
            foreach (var lib in new[] { "libggml-base.so", "libggml-cpu.so", "libggml.so" }) NativeLibrary.Load(Path.Combine(dir, lib));
            s_llama = NativeLibrary.Load(llama);
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
