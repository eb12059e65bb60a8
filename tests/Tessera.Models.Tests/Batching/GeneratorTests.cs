using System.Text;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation;
using Tessera.Models.Generation.Constraints;
using Tessera.Models.Tests.Llama;

namespace Tessera.Models.Tests.Batching;

/// <summary>The <see cref="Generator"/> as a service: cancelling one request (by its token or by leaving the
/// enumeration) frees its blocks and leaves the others' tokens unchanged; requests from several threads with their own
/// seeds get what each gets alone; the sampling chain, stop strings, grammar constraints, stop tokens and limits
/// behave per request as in <see cref="TextGenerator"/>; disposal ends
/// running requests; bad requests get errors that say what is wrong.</summary>
public sealed class GeneratorTests(BatchModels models) : IClassFixture<BatchModels>
{
    private Models.Llama Model()
    {
        Skip.If(models.Stories is null, BatchModels.StoriesMissing);
        return models.Stories!;
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(20);
        Assert.True(condition(), what);
    }

    [SkippableFact]
    public async Task Cancelling_one_request_frees_its_blocks_and_leaves_the_others_alone()
    {
        var model = Model();
        var prompts = BatchInvarianceTests.Prompts(3, model.Config.VocabSize, seed: 2);
        var options = new GenerationOptions { MaxTokens = 40 };
        await using var gen = new Generator(model, options: new GeneratorOptions { PrefixCaching = false, KvCacheTokens = 1024 });
        var alone = await gen.GenerateAllAsync(prompts[1], options);
        Assert.Equal(gen.TotalBlocks, gen.FreeBlocks);

        using var cts = new CancellationTokenSource();
        var other = gen.GenerateAllAsync(prompts[1], options);
        var seen = new List<int>();
        var cancelled = Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var t in gen.GenerateAsync(prompts[2], new GenerationOptions { MaxTokens = 400 }, cancellationToken: cts.Token))
            {
                seen.Add(t.Id);
                if (seen.Count == 3) cts.Cancel();
            }
        });
        await cancelled;
        Assert.Equal(3, seen.Count);
        Assert.Equal(alone, await other);
        await Eventually(() => gen.ActiveRequests == 0 && gen.FreeBlocks == gen.TotalBlocks, $"all {gen.TotalBlocks} blocks free after the cancel, {gen.FreeBlocks} are");

        // Leaving the enumeration early cancels too.
        await foreach (var t in gen.GenerateAsync(prompts[2], new GenerationOptions { MaxTokens = 400 }))
            if (t.Index == 2) break;
        await Eventually(() => gen.ActiveRequests == 0 && gen.FreeBlocks == gen.TotalBlocks, $"all {gen.TotalBlocks} blocks free after a break, {gen.FreeBlocks} are");
    }

    [SkippableFact]
    public async Task Requests_from_several_threads_get_what_each_gets_alone()
    {
        var model = Model();
        var prompts = BatchInvarianceTests.Prompts(12, model.Config.VocabSize, seed: 8);
        GenerationOptions Options(int i) => new() { MaxTokens = 10 + i, Temperature = i % 3 == 0 ? 0 : 0.9f, Seed = 100 + i };
        var alone = new List<IReadOnlyList<int>>();
        await using (var one = new Generator(model, options: new GeneratorOptions { MaxBatch = 1 }))
            for (int i = 0; i < prompts.Length; i++) alone.Add(await one.GenerateAllAsync(prompts[i], Options(i)));

        await using var gen = new Generator(model, options: new GeneratorOptions { MaxBatch = 5 });   // some wait their turn
        var tasks = Enumerable.Range(0, prompts.Length)
            .Select(i => Task.Run(() => gen.GenerateAllAsync(prompts[i], Options(i)))).ToArray();
        var got = await Task.WhenAll(tasks);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(alone[i], got[i]);
        await Eventually(() => gen.ActiveRequests == 0, "no request left running");
        Assert.Equal(gen.TotalBlocks - gen.CachedBlocks, gen.FreeBlocks);
    }

    [SkippableFact]
    public async Task Stop_tokens_and_limits_end_a_request_as_the_text_generator_does()
    {
        var model = Model();
        var prompt = BatchInvarianceTests.Prompts(4, model.Config.VocabSize, seed: 3)[3];
        await using var gen = new Generator(model);
        var free = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 10 });
        var stats = new GenerationStats();
        var stopped = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 10, StopTokens = [free[4]] }, stats);
        Assert.Equal(free.Take(free.ToList().IndexOf(free[4])), stopped);
        Assert.Equal(StopReason.Eos, stats.Stop);
        var none = new GenerationStats();
        Assert.Empty(await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = 0 }, none));
        Assert.Equal(StopReason.Length, none.Stop);
        // At the end of the context the request stops with Length, as the text generator does.
        int room = model.ContextLength - prompt.Length;
        var full = new GenerationStats();
        var all = await gen.GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = room + 50 }, full);
        Assert.Equal(StopReason.Length, full.Stop);
        Assert.Equal(await new TextGenerator(model).GenerateAllAsync(prompt, new GenerationOptions { MaxTokens = room + 50, PagedCache = true }), all);
    }

    [SkippableFact]
    public async Task Sampling_chains_stop_strings_and_grammars_run_per_request_as_in_the_text_generator()
    {
        var model = Model();
        using var gguf = GgufFile.Open(LlamaStories260KTests.ModelPath()!);
        var tokenizer = Tokenizer.FromGguf(gguf);
        var prompt = tokenizer.Encode("Once upon a time");
        var text = new TextGenerator(model, tokenizer);
        async Task<(int[] Ids, string Text, StopReason? Stop)> Collect(IAsyncEnumerable<GeneratedToken> tokens, GenerationStats stats)
        {
            var ids = new List<int>();
            var sb = new StringBuilder();
            await foreach (var t in tokens) { ids.Add(t.Id); sb.Append(t.Text); }
            return ([.. ids], sb.Append(stats.TrailingText).ToString(), stats.Stop);
        }
        var greedy = await Collect(text.GenerateAsync(prompt, new GenerationOptions { MaxTokens = 30 }), new GenerationStats());
        string stop = greedy.Text.Substring(greedy.Text.Length / 2, 5);     // ends the run mid-text, across tokens
        var requests = new GenerationOptions[]
        {
            new() { MaxTokens = 30, Temperature = 0.8f, Seed = 3, TopK = 40, TopP = 0.9f, MinP = 0.05f, RepeatPenalty = 1.1f },
            new() { MaxTokens = 30, StopStrings = [stop] },
            new() { MaxTokens = 30, Temperature = 1f, Seed = 5, Constraint = GrammarConstraint.FromGbnf("root ::= (\"yes\" | \"no\") \" it was \" [a-z]+ \".\"") },
            new() { MaxTokens = 30, Temperature = 1.2f, Seed = 9, PresencePenalty = 0.5f, FrequencyPenalty = 0.3f, LogitBias = new Dictionary<int, float> { [greedy.Ids[0]] = float.NegativeInfinity } },
        };
        await using var gen = new Generator(model, tokenizer);
        var together = requests.Select(o =>
        {
            var stats = new GenerationStats();
            return Collect(gen.GenerateAsync(prompt, o with { StopTokens = [tokenizer.EosId!.Value] }, stats), stats);
        }).ToArray();
        var got = await Task.WhenAll(together);
        for (int i = 0; i < requests.Length; i++)
        {
            var stats = new GenerationStats();
            var want = await Collect(text.GenerateAsync(prompt, requests[i] with { StopTokens = [tokenizer.EosId!.Value], PagedCache = true }, stats), stats);
            Assert.Equal(want.Ids, got[i].Ids);
            Assert.Equal(want.Text, got[i].Text);
            Assert.Equal(want.Stop, got[i].Stop);
        }
        Assert.Equal(StopReason.StopString, got[1].Stop);
        Assert.DoesNotContain(stop, got[1].Text);
        Assert.StartsWith(got[1].Text, greedy.Text);
        Assert.True(requests[2].Constraint!.AcceptsPrefix(got[2].Text), $"'{got[2].Text}' leaves the grammar");
        Assert.NotEqual(greedy.Ids[0], got[3].Ids[0]);
        await using var plain = new Generator(model);   // no tokenizer: stop strings are refused
        await Assert.ThrowsAsync<TesseraException>(() => plain.GenerateAllAsync(prompt, requests[1]));
    }

    [SkippableFact]
    public async Task Disposal_ends_running_requests_and_later_calls_say_so()
    {
        var model = Model();
        var prompt = BatchInvarianceTests.Prompts(2, model.Config.VocabSize, seed: 4)[1];
        var gen = new Generator(model);
        var started = new TaskCompletionSource();
        var running = Task.Run(async () =>
        {
            await foreach (var t in gen.GenerateAsync(prompt, new GenerationOptions { MaxTokens = model.ContextLength - prompt.Length }))
                started.TrySetResult();
        });
        await started.Task;
        gen.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => running);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => gen.GenerateAllAsync(prompt, new GenerationOptions()));
    }

    [SkippableFact]
    public async Task Bad_requests_get_errors_that_name_the_problem()
    {
        var model = Model();
        await using var gen = new Generator(model, options: new GeneratorOptions { KvCacheTokens = 64 });
        var e = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync([1, 5, 99999], new GenerationOptions()));
        Assert.Contains("99999", e.Message);
        e = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync([], new GenerationOptions()));
        Assert.Contains("no tokens", e.Message);
        e = await Assert.ThrowsAsync<TesseraException>(() => gen.GenerateAllAsync([1, 5], new GenerationOptions { MaxTokens = 200 }));
        Assert.Contains("KV blocks", e.Message);
        Assert.Throws<TesseraException>(() => new Generator(model, options: new GeneratorOptions { MaxBatch = 0 }));
        // The generator still serves after refusing.
        Assert.Equal(5, (await gen.GenerateAllAsync([1, 5], new GenerationOptions { MaxTokens = 5 })).Count);
    }
}
