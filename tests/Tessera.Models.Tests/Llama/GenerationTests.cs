using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Models.Generation;

namespace Tessera.Models.Tests.Llama;

/// <summary>The generation core on a random decoder: greedy equals argmax over a cache-free forward of the whole
/// sequence, seeded sampling repeats, stop tokens end the run (not emitted), cancellation stops between steps, the
/// sampler's draws follow softmax(logits / T), and bad input (empty or too-long prompts, out-of-range ids, a GGUF whose
/// vocabulary does not match its embedding) gives errors that say what is wrong.</summary>
public sealed class GenerationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-gen-").FullName;
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));
    private readonly Models.Llama _model;

    public GenerationTests()
    {
        string path = Path.Combine(_dir, "m.gguf");
        RandomLlamaGguf.Write(path, RandomLlamaShape.LlamaGqa with { Context = 64 }, seed: 3);
        _model = LlamaLoader.Open(_cpu, path);
    }

    public void Dispose()
    {
        _model.Dispose();
        _cpu.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static readonly int[] Prompt = [1, 40, 270, 5];

    [Fact]
    public async Task Greedy_tokens_are_the_argmax_of_one_causal_pass_over_the_sequence()
    {
        var stats = new GenerationStats();
        var got = await new TextGenerator(_model).GenerateAllAsync(Prompt, new GenerationOptions { MaxTokens = 12 }, stats);
        Assert.Equal(12, got.Count);
        Assert.Equal(StopReason.Length, stats.Stop);
        Assert.Equal((4, 12, 11), (stats.PromptTokens, stats.GeneratedTokens, stats.DecodeSteps));
        var all = Prompt.Concat(got).ToArray();
        using var logits = _model.Forward(all.AsSpan(0, all.Length - 1), null);
        using var argmax = logits.ArgMax(-1);
        Assert.Equal(got, argmax.ToArray<int>().Skip(Prompt.Length - 1).ToArray());
    }

    [Fact]
    public async Task Seeded_sampling_repeats_and_another_seed_differs()
    {
        var gen = new TextGenerator(_model);
        GenerationOptions Opt(int seed) => new() { MaxTokens = 20, Temperature = 1.5f, Seed = seed };
        var a = await gen.GenerateAllAsync(Prompt, Opt(1));
        var b = await gen.GenerateAllAsync(Prompt, Opt(1));
        var c = await gen.GenerateAllAsync(Prompt, Opt(2));
        var greedy = await gen.GenerateAllAsync(Prompt, new GenerationOptions { MaxTokens = 20 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, greedy);
        Assert.All(a.Concat(c), t => Assert.InRange(t, 0, _model.Config.VocabSize - 1));
    }

    [Fact]
    public async Task A_stop_token_ends_generation_and_is_not_emitted()
    {
        var gen = new TextGenerator(_model);
        var free = await gen.GenerateAllAsync(Prompt, new GenerationOptions { MaxTokens = 10 });
        var stats = new GenerationStats();
        var stopped = await gen.GenerateAllAsync(Prompt, new GenerationOptions { MaxTokens = 10, StopTokens = [free[3]] }, stats);
        int first = free.ToList().IndexOf(free[3]);
        Assert.Equal(free.Take(first).ToArray(), stopped);
        Assert.Equal(StopReason.Eos, stats.Stop);
    }

    [Fact]
    public async Task Cancellation_stops_between_steps()
    {
        using var cts = new CancellationTokenSource();
        var seen = new List<int>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var t in new TextGenerator(_model).GenerateAsync(Prompt, new GenerationOptions { MaxTokens = 50 }, null, cts.Token))
            {
                seen.Add(t.Id);
                if (seen.Count == 3) cts.Cancel();
            }
        });
        Assert.Equal(3, seen.Count);
    }

    [Fact]
    public void Sampler_draws_follow_the_softmax_at_the_temperature()
    {
        float[] logits = [1f, 2f, 0f, -1f, 2f];
        const float t = 0.7f;
        var p = logits.Select(l => Math.Exp(l / t)).ToArray();
        double z = p.Sum();
        var sampler = new TokenSampler(t, seed: 42);
        var counts = new int[logits.Length];
        const int n = 100_000;
        for (int i = 0; i < n; i++) counts[sampler.Sample(logits)]++;
        for (int i = 0; i < logits.Length; i++)
        {
            double expected = n * p[i] / z, sd = Math.Sqrt(expected);
            Assert.True(Math.Abs(counts[i] - expected) < 5 * sd + 1, $"token {i}: {counts[i]} draws, expected {expected:F0}");
        }
        Assert.Equal(1, new TokenSampler(0, null).Sample(logits)); // greedy: the first of the tied maxima
        Assert.Throws<TesseraException>(() => new TokenSampler(0, null).Sample([0f, float.NaN]));
        Assert.Throws<TesseraException>(() => new TokenSampler(-1, null));
    }

    [Fact]
    public async Task Bad_prompts_give_clear_errors()
    {
        var gen = new TextGenerator(_model);
        var empty = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync([], new GenerationOptions()));
        Assert.Contains("no tokens", empty.Message);
        var tooLong = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync(Enumerable.Repeat(5, 64).ToArray(), new GenerationOptions()));
        Assert.Contains("context of 64", tooLong.Message);
        var badId = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync([1, 300], new GenerationOptions()));
        Assert.Contains("300", badId.Message);
        await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync(Prompt, new GenerationOptions { Temperature = float.NaN }));
        Assert.Empty(await gen.GenerateAllAsync(Prompt, new GenerationOptions { MaxTokens = 0 }));
    }

    [Fact]
    public void A_gguf_whose_vocabulary_does_not_match_its_embedding_is_refused()
    {
        string path = Path.Combine(_dir, "bad.gguf");
        RandomLlamaGguf.Write(path, RandomLlamaShape.LlamaGqa, seed: 3, vocabTokens: 290);
        var e = Assert.ThrowsAny<WeightFormatException>(() => LlamaLoader.Open(_cpu, path));
        Assert.Contains("token_embd.weight", e.Message);
        Assert.Contains("290", e.Message);
    }

    [Fact]
    public void Forward_embeddings_equals_forward_of_the_ids()
    {
        var ids = new[] { 1, 17, 250, 3, 99 };
        using var e = _model.Embeddings(ids);
        using var a = _model.ForwardEmbeddings(e, null, null);
        using var b = _model.Forward(ids, null);
        Assert.Equal(b.ToArray<float>(), a.ToArray<float>());
        using var wrong = Tensor.Zeros(_cpu, DType.F32, new Shape(1, 2, 5));
        Assert.Throws<TesseraException>(() => _model.ForwardEmbeddings(wrong, null, null));
    }
}

/// <summary>The paged KV cache against the contiguous one: the same logits through a prefill that spans blocks and
/// decode steps that cross block boundaries (GQA, sliding window off), the same greedy tokens, blocks taken as needed.</summary>
public sealed class PagedKvCacheTests
{
    [Theory]
    [InlineData(4), InlineData(16)]
    public async Task Paged_and_contiguous_caches_give_the_same_logits_and_tokens(int blockSize)
    {
        string dir = Directory.CreateTempSubdirectory("tessera-paged-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            RandomLlamaGguf.Write(path, RandomLlamaShape.LlamaGqa with { Context = 64 }, seed: 21);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, path);
            using var contiguous = model.CreateCache(40);
            using var paged = model.CreatePagedCache(40, blockSize: blockSize);
            int[] prompt = [1, 17, 250, 3, 99, 5, 42];
            using (var a = model.Forward(prompt, contiguous))
            using (var b = model.Forward(prompt, paged))
                Assert.True(LlamaLogitsTests.MaxDiff(a.ToArray<float>(), b.ToArray<float>()) < 1e-5);
            int blocksAfterPrompt = paged.NumBlocks - paged.FreeBlocks;
            Assert.Equal((prompt.Length + blockSize - 1) / blockSize, blocksAfterPrompt);
            for (int step = 0; step < 12; step++)
            {
                int id = 20 + step * 13;
                using var a = model.Forward([id], contiguous);
                using var b = model.Forward([id], paged);
                Assert.True(LlamaLogitsTests.MaxDiff(a.ToArray<float>(), b.ToArray<float>()) < 1e-5, $"step {step}");
            }
            var gen = new TextGenerator(model);
            var want = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 25 });
            var got = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 25, PagedCache = true });
            Assert.Equal(want, got);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Append_gathers_the_stored_keys_and_values_across_blocks()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var paged = new PagedKvCache(cpu, layers: 1, batch: 2, kvHeads: 3, headDim: 4, maxLength: 20, blockSize: 3);
        using var contiguous = new Tessera.Models.Nn.ContiguousKvCache(cpu, 1, 2, 3, 4, 20);
        var rng = new Random(1);
        foreach (int s in new[] { 5, 1, 4 })
        {
            var kv = Enumerable.Range(0, 2 * 3 * s * 4).Select(_ => (float)rng.NextDouble()).ToArray();
            using var k = Tensor.FromArray(cpu, kv, 2, 3, s, 4);
            using var v = Tensor.FromArray(cpu, kv.Select(x => -x).ToArray(), 2, 3, s, 4);
            var (pk, pv) = paged.Append(0, k, v);
            var (ck, cv) = contiguous.Append(0, k, v);
            using (pk) using (pv) using (ck) using (cv)
            {
                Assert.Equal(ck.ToArray<float>(), pk.ToArray<float>());
                Assert.Equal(cv.ToArray<float>(), pv.ToArray<float>());
            }
        }
        Assert.Equal(10, paged.Length(0));
        using var tooMany = Tensor.Zeros(cpu, DType.F32, new Shape(2, 3, 11, 4));
        Assert.Contains("exceed", Assert.Throws<TesseraException>(() => paged.Append(0, tooMany, tooMany)).Message);
    }
}
