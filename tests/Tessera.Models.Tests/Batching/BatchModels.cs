using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Models.Tests.Llama;

namespace Tessera.Models.Tests.Batching;

/// <summary>The decoders the batching tests share, loaded once: stories260K (a real trained model, f32, GQA 8/4) when
/// ../shared/models has it, and a random-weight decoder with the llama-110M widths (dim 768, 12 heads, FFN 2048,
/// vocabulary 32000: the matmul and attention shapes of every layer) in Q4_0, written by the fixture. It has 2 of the
/// 110M model's 12 layers to keep the tests quick; each layer runs the same ops, so what holds for 2 holds for 12
/// (the batch-decode benchmark runs all 12).</summary>
public sealed class BatchModels : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-batch-").FullName;
    private readonly Lazy<Models.Llama> _llama110M;
    private readonly Lazy<Models.Llama?> _stories;

    /// <summary>The llama-110M widths with 2 layers and a short context (small KV pools).</summary>
    public static RandomLlamaShape Llama110M { get; } = new("llama", 768, 2, 12, 12, 2048, 32000, Context: 256);

    public BatchModels()
    {
        Cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        _llama110M = new(() =>
        {
            string path = Path.Combine(_dir, "llama-110m-q4_0.gguf");
            RandomLlamaGguf.Write(path, Llama110M, seed: 11, type: DType.Q4_0);
            return LlamaLoader.Open(Cpu, path);
        });
        _stories = new(() =>
        {
            string? path = LlamaStories260KTests.ModelPath();
            return path is not null && File.Exists(path) ? LlamaLoader.Open(Cpu, path) : null;
        });
    }

    /// <summary>Two threads, as the targets are stated.</summary>
    public CpuBackend Cpu { get; }

    /// <summary>The random llama-110M-shaped Q4_0 decoder.</summary>
    public Models.Llama Llama110M4 => _llama110M.Value;

    /// <summary>stories260K, or null when the file is absent.</summary>
    public Models.Llama? Stories => _stories.Value;

    /// <summary>Why stories260K is missing.</summary>
    public static string StoriesMissing => $"stories260K.gguf is absent (expected at ../shared/models/llm/stories260K from the repository root: {LlamaStories260KTests.ModelPath()})";

    /// <summary>A model by the name the tests use.</summary>
    public Models.Llama? Named(string name) => name == "stories260K" ? Stories : Llama110M4;

    public void Dispose()
    {
        if (_llama110M.IsValueCreated) _llama110M.Value.Dispose();
        if (_stories.IsValueCreated) _stories.Value?.Dispose();
        Cpu.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
