using Tessera.Cpu;
using Tessera.Models.Generation;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>The decoder with an f16 KV cache (keys and values rounded to f16 as they are stored, read in place by the
/// attention kernels): llama.cpp with its own f16 cache is the oracle, and the contiguous and paged f16 caches must
/// agree with each other as the f32 ones do.</summary>
public sealed class HalfKvCacheTests(ITestOutputHelper output)
{
    /// <summary>The f32 cache's bound (LlamaLogitsTests). llama.cpp's non-flash f16 path also rounds the query and the
    /// softmax weights to f16 inside its matrix products (ggml's vec_dot_type for f16), which Tessera does not; measured
    /// 2e-4..5e-4 on these models, within the same bound.</summary>
    private const double Tolerance = 1e-3;

    /// <summary>How far rounding K and V to f16 may move the logits from the f32 cache's (measured 6e-4).</summary>
    private const double RoundingBound = 1e-2;

    [SkippableTheory]
    [InlineData("llama-gqa", false)]
    [InlineData("llama-gqa", true)]
    [InlineData("qwen2", false)]
    public void An_f16_cache_follows_llama_cpp_with_its_f16_cache(string arch, bool paged)
    {
        Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
        var shape = RandomLlamaShape.Named(arch);
        string dir = Directory.CreateTempSubdirectory("tessera-llama-f16kv-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            RandomLlamaGguf.Write(path, shape, seed: 7, DType.F32, tied: false);
            using var oracle = new LlamaCpp(path, halfKv: true);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, path);
            var worst = LlamaLogitsTests.Compare(model, oracle, new Random(11), cache: (m, n) => paged
                ? m.CreatePagedCache(n, blockSize: 4, kvType: DType.F16)
                : m.CreateCache(n, kvType: DType.F16));
            output.WriteLine($"{arch} paged={paged}: max |diff| prefill {worst.Prefill:E2}, decode {worst.Decode:E2} (median step {worst.DecodeMedian:E2})");
            Assert.True(worst.Prefill < Tolerance, $"prefill logits differ by {worst.Prefill:E2}");
            Assert.True(worst.Decode < Tolerance, $"decode logits differ by {worst.Decode:E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Generation_takes_an_f16_cache_contiguous_or_paged()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-f16kv-gen-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            RandomLlamaGguf.Write(path, RandomLlamaShape.LlamaGqa with { Context = 64 }, seed: 21);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, path);
            int[] prompt = [1, 17, 250, 3, 99, 5, 42];
            var gen = new TextGenerator(model);
            var contiguous = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 20, KvCacheType = DType.F16 });
            var paged = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 20, KvCacheType = DType.F16, PagedCache = true });
            Assert.Equal(20, contiguous.Count); // no stop tokens given: the whole budget
            Assert.Equal(contiguous, paged);
            // Greedy through the f16 cache is argmax of the logits the f16 cache gives, step by step.
            using var cache = model.CreateCache(prompt.Length + 20, kvType: DType.F16);
            var logits = model.Forward(prompt, cache, lastOnly: true);
            foreach (int token in contiguous)
            {
                using (logits) Assert.Equal(LlamaLogitsTests.ArgMax(logits.ToFloatArray()), token);
                logits = model.Forward([token], cache, lastOnly: true);
            }
            logits.Dispose();
            var bad = new GenerationOptions { MaxTokens = 2, KvCacheType = DType.BF16 };
            var e = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync(prompt, bad));
            Assert.Contains("bf16", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Contiguous_and_paged_f16_caches_give_the_same_logits_and_a_kv_type_is_checked()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-f16kv-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            RandomLlamaGguf.Write(path, RandomLlamaShape.LlamaGqa with { Context = 64 }, seed: 21);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, path);
            using var contiguous = model.CreateCache(40, kvType: DType.F16);
            using var paged = model.CreatePagedCache(40, blockSize: 4, kvType: DType.F16);
            using var full = model.CreateCache(40);
            int[] prompt = [1, 17, 250, 3, 99, 5, 42];
            double fromF32 = 0;
            using (var a = model.Forward(prompt, contiguous))
            using (var b = model.Forward(prompt, paged))
            using (var c = model.Forward(prompt, full))
            {
                Assert.True(LlamaLogitsTests.MaxDiff(a.ToArray<float>(), b.ToArray<float>()) < 1e-5);
                fromF32 = LlamaLogitsTests.MaxDiff(a.ToArray<float>(), c.ToArray<float>());
            }
            for (int step = 0; step < 12; step++)
            {
                int id = 20 + step * 13;
                using var a = model.Forward([id], contiguous);
                using var b = model.Forward([id], paged);
                using var c = model.Forward([id], full);
                Assert.True(LlamaLogitsTests.MaxDiff(a.ToArray<float>(), b.ToArray<float>()) < 1e-5, $"step {step}");
                fromF32 = Math.Max(fromF32, LlamaLogitsTests.MaxDiff(a.ToArray<float>(), c.ToArray<float>()));
            }
            // Rounding K and V to f16 moves the logits, but not far (and not by nothing: the f16 cache is really used).
            output.WriteLine($"f16 cache against the f32 cache: max |diff| {fromF32:E2}");
            Assert.InRange(fromF32, 1e-7, RoundingBound);
            var e = Assert.Throws<TesseraException>(() => model.CreateCache(8, kvType: DType.BF16));
            Assert.Contains("bf16", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
