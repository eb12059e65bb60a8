using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Models.Generation;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>A real trained LLaMA, stories260K (TinyStories, GQA 8/4, vocab 512), read in place from
/// ../shared/models/llm: greedy generation from "Once upon a time" gives the same 200 tokens as llama.cpp's greedy loop
/// on the same file (prompt ids from llama.cpp's tokenizer, BOS included).</summary>
public sealed class LlamaStories260KTests(ITestOutputHelper output)
{
    private const int Tokens = 200;

    internal static string? ModelPath()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Runtime.sln")))
                return Path.GetFullPath(Path.Combine(d.FullName, "..", "shared", "models", "llm", "stories260K", "stories260K.gguf"));
        return null;
    }

    [SkippableFact]
    public async Task Greedy_generation_gives_llama_cpps_200_tokens()
    {
        string? path = ModelPath();
        Skip.If(path is null || !File.Exists(path), $"stories260K.gguf is absent (expected at ../shared/models/llm/stories260K from the repository root: {path})");
        Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
        using var oracle = new LlamaCpp(path!, context: 512);
        var prompt = oracle.Tokenize("Once upon a time");
        var want = new List<int>();
        var logits = oracle.Eval(prompt, 0)[^1];
        while (want.Count < Tokens)
        {
            want.Add(LlamaLogitsTests.ArgMax(logits));
            if (want.Count < Tokens) logits = oracle.Eval([want[^1]], prompt.Length + want.Count - 1)[0];
        }

        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var model = LlamaLoader.Open(cpu, path!);
        var stats = new GenerationStats();
        // No stop tokens: llama.cpp's loop above runs on past any EOS too.
        var got = await new TextGenerator(model).GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = Tokens }, stats);
        Assert.Equal(want, got);
        Assert.Equal(StopReason.Length, stats.Stop);

        using var gguf = GgufFile.Open(path!);
        var vocab = gguf.Get<string[]>("tokenizer.ggml.tokens");
        string text = string.Concat(prompt.Skip(1).Concat(got).Select(t => vocab[t])).Replace('\u2581', ' ').TrimStart();
        output.WriteLine(text);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily", text);
    }
}
