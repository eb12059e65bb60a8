using System.Diagnostics;
using System.Runtime.CompilerServices;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation.Sampling;

namespace Tessera.Models.Generation;

/// <summary>Generates tokens from a <see cref="Llama"/>: one batched prefill of the prompt into a KV cache, then one
/// decode step per token over that cache, each token picked by a <see cref="SamplerChain"/>, until a stop token, a stop
/// string, the token limit or the end of the context. Tokens stream out as they are made, with their text when the
/// generator has a tokenizer; cancellation is checked before every forward pass.</summary>
public sealed class TextGenerator
{
    /// <summary>The model generated from.</summary>
    public Llama Model { get; }

    /// <summary>The tokenizer that gives tokens their text (stop strings and grammar constraints need it), or null.</summary>
    public ITokenizer? Tokenizer { get; }

    /// <summary>A generator over <paramref name="model"/> (the caller keeps owning it); <paramref name="tokenizer"/>, the
    /// model's, lets it detokenize (<see cref="GeneratedToken.Text"/>), match stop strings and follow a grammar.</summary>
    public TextGenerator(Llama model, ITokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Tokenizer = tokenizer;
    }

    /// <summary>The model's end-of-sequence ids from its config.</summary>
    public IReadOnlyCollection<int> EosTokens => Model.Config.EosTokenId ?? [];

    /// <summary>Streams the tokens generated after <paramref name="prompt"/> (ids, BOS included when the model wants
    /// one). <paramref name="stats"/>, when given, is filled in as the run goes.</summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (prompt.Count == 0) throw new TesseraException("generation: the prompt has no tokens");
        int context = Model.ContextLength;
        if (prompt.Count >= context && options.MaxTokens > 0 || prompt.Count > context)
            throw new TesseraException($"generation: the prompt's {prompt.Count} tokens leave no room in the model's context of {context} positions");
        if (Tokenizer is null && options.StopStrings.Count > 0)
            throw new TesseraException("generation: stop strings need the model's tokenizer (TextGenerator's tokenizer argument)");
        if (Tokenizer is not null && Tokenizer.VocabSize != Model.Config.VocabSize)
            throw new TesseraException($"generation: the tokenizer has {Tokenizer.VocabSize} tokens but the model's vocabulary has {Model.Config.VocabSize}");
        stats ??= new GenerationStats();
        stats.PromptTokens = prompt.Count;
        if (options.MaxTokens == 0)
        {
            stats.Stop = StopReason.Length;
            yield break;
        }

        // The cache holds the prompt and every generated token but the last (which is never fed back).
        int capacity = Math.Min(context, prompt.Count + options.MaxTokens);
        using var cacheOwner = options.PagedCache
            ? (IDisposable)Model.CreatePagedCache(capacity, kvType: options.KvCacheType)
            : Model.CreateCache(capacity, kvType: options.KvCacheType);
        var cache = (Nn.IKvCache)cacheOwner;
        var sampler = new SamplerChain(options, Tokenizer);
        sampler.AcceptPrompt(prompt.ToArray());
        var detok = Tokenizer?.CreateStreamingDetokenizer();
        var stops = new StopStringMatcher(options.StopStrings);
        var logits = new float[Model.Config.VocabSize];
        var ids = prompt.ToArray();

        cancellationToken.ThrowIfCancellationRequested();
        long t0 = Stopwatch.GetTimestamp();
        int next = Step(ids, cache, sampler, logits, stats);
        stats.PrefillSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;

        for (int index = 0; ; index++)
        {
            if (options.StopTokens.Contains(next))
            {
                stats.Stop = StopReason.Eos;
                if (detok is not null) stats.TrailingText = stops.Push(detok.Flush()) + stops.Flush();
                yield break;
            }
            sampler.Accept(next);
            stats.GeneratedTokens = index + 1;
            string text = detok is null ? "" : stops.Push(detok.Push(next));
            bool last = index + 1 >= options.MaxTokens || cache.Length(0) >= capacity;
            if (stops.Matched is not null) stats.Stop = StopReason.StopString;
            else if (last)
            {
                if (detok is not null) stats.TrailingText = stops.Push(detok.Flush()) + stops.Flush();
                stats.Stop = stops.Matched is null ? StopReason.Length : StopReason.StopString;
            }
            yield return new GeneratedToken(next, index) { Text = text };
            if (stats.Stop is not null) yield break;
            cancellationToken.ThrowIfCancellationRequested();
            // Let a consumer on a single-threaded context see the token before the next step starts.
            await Task.Yield();
            long t = Stopwatch.GetTimestamp();
            next = Step([next], cache, sampler, logits, stats);
            stats.DecodeSeconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
            stats.DecodeSteps++;
        }
    }

    /// <summary>Runs the whole generation and returns the ids (without the stop token).</summary>
    public async Task<IReadOnlyList<int>> GenerateAllAsync(IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, CancellationToken cancellationToken = default)
    {
        var tokens = new List<int>();
        await foreach (var t in GenerateAsync(prompt, options, stats, cancellationToken).ConfigureAwait(false)) tokens.Add(t.Id);
        return tokens;
    }

    // One forward pass over ids continuing the cache; only the last position's logits are computed.
    private int Step(int[] ids, Nn.IKvCache cache, SamplerChain sampler, float[] logits, GenerationStats stats)
    {
        using (TensorScope.Begin())
        using (var output = Model.Forward(ids, cache, lastOnly: true))
            output.CopyTo<float>(logits);
        long t = Stopwatch.GetTimestamp();
        int next = sampler.Sample(logits);
        stats.SamplingSeconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
        return next;
    }
}
