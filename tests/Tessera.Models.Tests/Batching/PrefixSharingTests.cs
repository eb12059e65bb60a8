using Tessera.Models.Generation;

namespace Tessera.Models.Tests.Batching;

/// <summary>Prefix sharing, counted in blocks: a sequence started on another's whole blocks takes no new block for
/// them (reference counts rise instead), a shared partly filled block is copied on the first write (one block, and the
/// owner's keys stay as they were), freeing gives every block back; and the generator reuses cached prompt blocks
/// without changing any token.</summary>
public sealed class PrefixSharingTests(BatchModels models) : IClassFixture<BatchModels>
{
    private const int Bs = 16;

    private Models.Llama Model()
    {
        Skip.If(models.Stories is null, BatchModels.StoriesMissing);
        return models.Stories!;
    }

    private static float[] Row(Tensor logits, int row)
    {
        using var r = logits.Narrow(0, row, 1);
        return r.ToArray<float>();
    }

    [SkippableFact]
    public void Shared_blocks_are_counted_once_and_a_partly_filled_one_is_copied_on_write()
    {
        var model = Model();
        var prompt = BatchInvarianceTests.Prompts(2, model.Config.VocabSize, seed: 9)[1];   // 37 tokens
        Assert.Equal(38, prompt.Length);
        using var pool = model.CreateBlockPool(16, Bs);
        var alloc = pool.Allocator;

        using var a = pool.CreateSequence();
        using (var la = model.ForwardBatch([a], prompt, [prompt.Length])) { }
        Assert.Equal(3, a.Blocks.Count);
        Assert.Equal(13, alloc.FreeCount);

        // b starts on a's two whole blocks: no new block for them.
        using var b = pool.CreateSequence(a.Blocks.Take(2).ToList(), 2 * Bs);
        Assert.Equal(13, alloc.FreeCount);
        Assert.All(a.Blocks.Take(2), blk => Assert.Equal(2, alloc.RefCount(blk)));
        using var lb = model.ForwardBatch([b], prompt.AsSpan(2 * Bs), [prompt.Length - 2 * Bs]);
        Assert.Equal(12, alloc.FreeCount);                        // only its own third block

        // c starts on all three of a's blocks, the third partly filled (37 of a's 38 positions): its first write
        // copies that block (one more block), and a's block keeps a's keys.
        using var c = pool.CreateSequence(a.Blocks.ToList(), prompt.Length - 1);
        Assert.Equal(12, alloc.FreeCount);
        using var lc = model.ForwardBatch([c], prompt.AsSpan(prompt.Length - 1), [1]);
        Assert.Equal(11, alloc.FreeCount);
        Assert.NotEqual(a.Blocks[2], c.Blocks[2]);
        Assert.Equal(1, alloc.RefCount(a.Blocks[2]));
        Assert.Equal(a.Blocks.Take(2), c.Blocks.Take(2));

        // Every path gives the logits of computing the whole prompt from scratch, bit for bit.
        using var fresh = pool.CreateSequence();
        using var lf = model.ForwardBatch([fresh], prompt, [prompt.Length]);
        Assert.Equal(Row(lf, 0), Row(lb, 0));
        Assert.Equal(Row(lf, 0), Row(lc, 0));
        // a's keys were not overwritten by c: a's next step equals fresh's next step, in one forward.
        using var next = model.ForwardBatch([a, fresh], [7, 7], [1, 1]);
        Assert.Equal(Row(next, 1), Row(next, 0));

        a.Dispose(); b.Dispose(); c.Dispose(); fresh.Dispose();
        Assert.Equal(16, alloc.FreeCount);
    }

    [SkippableFact]
    public async Task The_generator_reuses_cached_prompt_blocks_and_gives_the_same_tokens()
    {
        var model = Model();
        var prompts = BatchInvarianceTests.Prompts(2, model.Config.VocabSize, seed: 9);
        var p38 = prompts[1];
        var p32 = p38[..32];                       // exactly two whole blocks: the last one is shared partly filled
        var options = new GenerationOptions { MaxTokens = 8 };
        var reference = new List<IReadOnlyList<int>>();
        await using (var plain = new Generator(model, options: new GeneratorOptions { PrefixCaching = false, KvCacheTokens = 512 }))
        {
            reference.Add(await plain.GenerateAllAsync(p38, options));
            reference.Add(await plain.GenerateAllAsync(p32, options));
            Assert.Equal(0, plain.ReusedPromptTokens);
        }

        await using var gen = new Generator(model, options: new GeneratorOptions { KvCacheTokens = 512 });
        Assert.Equal(reference[0], await gen.GenerateAllAsync(p38, options));
        // 38 + 7 stored positions: blocks 0 and 1 are full and stay cached; the third is freed.
        Assert.Equal(2, gen.CachedBlocks);
        Assert.Equal(gen.TotalBlocks - 2, gen.FreeBlocks);
        Assert.Equal(reference[0], await gen.GenerateAllAsync(p38, options));
        Assert.Equal(32, gen.ReusedPromptTokens);
        Assert.Equal(2, gen.CachedBlocks);                                   // shared, not recorded twice
        // The whole 32-token prompt is cached: 31 reused, the last token recomputed into a copy of block 1, twice.
        Assert.Equal(reference[1], await gen.GenerateAllAsync(p32, options));
        Assert.Equal(reference[1], await gen.GenerateAllAsync(p32, options));
        Assert.Equal(32 + 31 + 31, gen.ReusedPromptTokens);
        Assert.Equal(gen.TotalBlocks - gen.CachedBlocks, gen.FreeBlocks);   // nothing but the cache holds a block

        // Two requests running at once share the cached blocks too.
        var both = await Task.WhenAll(gen.GenerateAllAsync(p38, options), gen.GenerateAllAsync(p38, options));
        Assert.All(both, t => Assert.Equal(reference[0], t));
        Assert.Equal(32 + 31 + 31 + 64, gen.ReusedPromptTokens);
    }
}
