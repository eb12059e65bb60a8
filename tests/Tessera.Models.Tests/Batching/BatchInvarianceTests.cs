using Tessera.Attention;
using Tessera.Models.Generation;

namespace Tessera.Models.Tests.Batching;

/// <summary>Batch invariance: 16 requests of different prompt lengths and token limits, decoded together by one
/// <see cref="Generator"/> (half of them joining after the first ones have started), give the same greedy tokens as
/// each alone; and alone, the batched path gives the tokens of <see cref="TextGenerator"/> over its paged cache.</summary>
public sealed class BatchInvarianceTests(BatchModels models) : IClassFixture<BatchModels>
{
    internal static int[][] Prompts(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        // Lengths 1 .. 61, spread so that sequences sit at different block offsets.
        return Enumerable.Range(0, count).Select(i =>
            new[] { 1 }.Concat(Enumerable.Range(0, (i * 37) % 61).Select(_ => rng.Next(3, vocab))).ToArray()).ToArray();
    }

    [SkippableTheory]
    [InlineData("stories260K", 12)]
    [InlineData("llama-110M-q4_0", 4)]
    public async Task Sixteen_sequences_together_give_the_greedy_tokens_of_each_alone(string name, int maxTokens)
    {
        var model = models.Named(name);
        Skip.If(model is null, BatchModels.StoriesMissing);
        var prompts = Prompts(16, model!.Config.VocabSize, seed: 5);
        GenerationOptions Options(int i) => new() { MaxTokens = maxTokens + i % 4 };

        var alone = new List<IReadOnlyList<int>>();
        await using (var one = new Generator(model, options: new GeneratorOptions { MaxBatch = 1, PrefixCaching = false, KvCacheTokens = 256 }))
            for (int i = 0; i < prompts.Length; i++) alone.Add(await one.GenerateAllAsync(prompts[i], Options(i)));

        // The batched path alone is the existing single-sequence path over a paged cache, token for token.
        var text = new TextGenerator(model);
        for (int i = 0; i < (name == "stories260K" ? 3 : 1); i++)
            Assert.Equal(await text.GenerateAllAsync(prompts[i], Options(i) with { PagedCache = true }), alone[i]);

        await using var gen = new Generator(model, options: new GeneratorOptions { MaxBatch = 16, KvCacheTokens = 16 * 96 });
        var firstHalf = Enumerable.Range(0, 8).Select(i => gen.GenerateAllAsync(prompts[i], Options(i))).ToList();
        // The second half joins once the first is decoding.
        await foreach (var _ in gen.GenerateAsync(prompts[0], Options(0) with { MaxTokens = 2 })) { }
        var secondHalf = Enumerable.Range(8, 8).Select(i => gen.GenerateAllAsync(prompts[i], Options(i))).ToList();
        var together = await Task.WhenAll(firstHalf.Concat(secondHalf));
        for (int i = 0; i < prompts.Length; i++)
            Assert.True(alone[i].SequenceEqual(together[i]),
                $"{name}: request {i} ({prompts[i].Length} prompt tokens) alone gave [{string.Join(", ", alone[i])}], in the batch [{string.Join(", ", together[i])}]");
    }

    /// <summary>Bitwise, one level down: 16 sequences of different lengths stepped together by
    /// <see cref="Models.Llama.ForwardBatch"/> give each one's logits exactly as stepping it alone (the matmul rows do
    /// not depend on the row count, attention runs per sequence, norms and RoPE per row).</summary>
    [SkippableTheory]
    [InlineData("stories260K")]
    [InlineData("llama-110M-q4_0")]
    public void Sixteen_sequences_stepped_together_give_each_ones_logits_bit_for_bit(string name)
    {
        var model = models.Named(name);
        Skip.If(model is null, BatchModels.StoriesMissing);
        var prompts = Prompts(16, model!.Config.VocabSize, seed: 6);
        using var pool = model.CreateBlockPool(16 * 6, 16);
        var alone = prompts.Select(_ => pool.CreateSequence()).ToArray();
        var batch = prompts.Select(_ => pool.CreateSequence()).ToArray();
        try
        {
            for (int i = 0; i < prompts.Length; i++)
            {
                using var a = model.ForwardBatch([alone[i]], prompts[i], [prompts[i].Length]);
                using var b = model.ForwardBatch([batch[i]], prompts[i], [prompts[i].Length]);
            }
            var next = Enumerable.Range(0, prompts.Length).Select(i => (3 + i * 101) % model.Config.VocabSize).ToArray();
            for (int step = 0; step < 2; step++)
            {
                using var together = model.ForwardBatch(batch, next, Enumerable.Repeat(1, prompts.Length).ToArray());
                for (int i = 0; i < prompts.Length; i++)
                {
                    using var one = model.ForwardBatch([alone[i]], [next[i]], [1]);
                    using var row = together.Narrow(0, i, 1);
                    Assert.True(one.ToArray<float>().SequenceEqual(row.ToArray<float>()), $"{name} step {step}: sequence {i} ({prompts[i].Length} prompt tokens) differs in the batch");
                }
            }
        }
        finally
        {
            foreach (var s in alone.Concat(batch)) s.Dispose();
        }
        Assert.Equal(pool.Allocator.Count, pool.Allocator.FreeCount);
    }
}
