using Tessera.Cpu;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>The same decoder as a GGUF file (llama.cpp's names, permuted q/k rows, interleaved RoPE for "llama") and as
/// a Hugging Face directory (published names, rotate-half RoPE) gives the same logits; the GGUF side is pinned to
/// llama.cpp by <see cref="LlamaLogitsTests"/>. Also: sliding-window attention (Mistral) on a one-layer model, where
/// the last position's output depends only on the last W tokens, and RoPE scores only on relative positions.</summary>
public sealed class LlamaLayoutTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("llama-gqa"), InlineData("qwen2")]
    public void Hugging_Face_directory_and_gguf_give_the_same_logits(string shapeName)
    {
        var shape = RandomLlamaShape.Named(shapeName);
        string dir = Directory.CreateTempSubdirectory("tessera-llama-hf-").FullName;
        try
        {
            string gguf = Path.Combine(dir, "m.gguf"), hf = Path.Combine(dir, "hf");
            RandomLlamaGguf.Write(gguf, shape, seed: 5);
            HfFromGguf.Write(gguf, shape, hf);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var a = LlamaLoader.Open(cpu, gguf);
            using var b = LlamaLoader.Open(cpu, hf);
            Assert.Equal(Tessera.RopeMode.RotateHalf, b.Rope.Mode);
            Assert.Equal(shape.Arch == "llama" ? Tessera.RopeMode.Interleaved : Tessera.RopeMode.RotateHalf, a.Rope.Mode);
            var ids = new[] { 1, 17, 250, 3, 99, 0, 42, 260, 7, 8, 9 };
            using var la = a.Forward(ids, null);
            using var lb = b.Forward(ids, null);
            double diff = LlamaLogitsTests.MaxDiff(la.ToArray<float>(), lb.ToArray<float>());
            output.WriteLine($"{shapeName}: max |diff| {diff:E2}");
            Assert.True(diff < 1e-5, $"max |diff| {diff:E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Sliding_window_sees_only_the_last_w_tokens()
    {
        const int window = 4;
        var shape = RandomLlamaShape.LlamaGqa with { Layers = 1 };
        string dir = Directory.CreateTempSubdirectory("tessera-llama-swa-").FullName;
        try
        {
            string gguf = Path.Combine(dir, "m.gguf"), hf = Path.Combine(dir, "hf");
            RandomLlamaGguf.Write(gguf, shape, seed: 9);
            HfFromGguf.Write(gguf, shape, hf, slidingWindow: window, modelType: "mistral");
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, hf);
            Assert.Equal(window, model.Config.SlidingWindow);
            var ids = new[] { 1, 17, 250, 3, 99, 5, 42, 260, 7, 8 };
            // Prefill all but the last, then the last through the cache: the window applies across the cache too.
            using var cache = model.CreateCache(ids.Length);
            using (model.Forward(ids.AsSpan(0, ids.Length - 1), cache)) { }
            using var full = model.Forward(ids.AsSpan(ids.Length - 1), cache);
            using var tail = model.Forward(ids.AsSpan(ids.Length - window), null, lastOnly: true);
            double diff = LlamaLogitsTests.MaxDiff(full.ToArray<float>(), tail.ToArray<float>());
            Assert.True(diff < 1e-4, $"windowed last position vs the last {window} tokens alone: max |diff| {diff:E2}");
            using var wider = model.Forward(ids.AsSpan(ids.Length - window - 1), null, lastOnly: true);
            Assert.True(LlamaLogitsTests.MaxDiff(wider.ToArray<float>(), tail.ToArray<float>()) < 1e-4);
            // Without the window the earlier tokens change the result (the test can fail).
            using var noWindow = LlamaLoader.Open(cpu, gguf);
            using var all = noWindow.Forward(ids, null, lastOnly: true);
            Assert.True(LlamaLogitsTests.MaxDiff(all.ToArray<float>(), tail.ToArray<float>()) > 1e-3);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
