using System.Threading.Channels;
using Tessera.Attention;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation.Sampling;

namespace Tessera.Models.Generation.Batching;

/// <summary>One request inside the batch: its prompt and options, its sampling chain, detokenizer and stop-string
/// matcher, its KV blocks, the tokens stored so far (for prefix caching) and the channel its tokens stream out through. Owned by the scheduler's thread; only
/// <see cref="Cancel"/> is called from other threads.</summary>
internal sealed class BatchSequence
{
    private volatile bool _cancelled;

    public BatchSequence(long id, int[] prompt, GenerationOptions options, GenerationStats stats, int capacity,
        ITokenizer? tokenizer, CancellationToken cancellationToken)
    {
        (Id, Prompt, Options, Stats, Capacity, CancellationToken) = (id, prompt, options, stats, capacity, cancellationToken);
        Sampler = new SamplerChain(options, tokenizer);
        Sampler.AcceptPrompt(prompt);
        Detokenizer = tokenizer?.CreateStreamingDetokenizer();
        Stops = new StopStringMatcher(options.StopStrings);
        Tokens = [.. prompt];
        stats.PromptTokens = prompt.Length;
    }

    /// <summary>The request's number (for logs).</summary>
    public long Id { get; }

    /// <summary>The prompt ids.</summary>
    public int[] Prompt { get; }

    /// <summary>Limits, temperature, seed, stop tokens.</summary>
    public GenerationOptions Options { get; }

    /// <summary>Filled in as the request runs.</summary>
    public GenerationStats Stats { get; }

    /// <summary>Positions the request may store: its prompt and every generated token but the last, within the context.</summary>
    public int Capacity { get; }

    /// <summary>The caller's token for this request only.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>This request's own sampling chain (its seed, penalties window, grammar state).</summary>
    public SamplerChain Sampler { get; }

    /// <summary>Gives tokens their text (null without a tokenizer).</summary>
    public StreamingDetokenizer? Detokenizer { get; }

    /// <summary>Watches the text for the request's stop strings.</summary>
    public StopStringMatcher Stops { get; }

    /// <summary>Where the generated tokens go.</summary>
    public Channel<GeneratedToken> Output { get; } = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>The prompt, then each generated token.</summary>
    public List<int> Tokens { get; }

    /// <summary>The KV blocks (null until admitted).</summary>
    public SequenceKv? Kv { get; set; }

    /// <summary>Blocks set aside for the request's whole run at admission.</summary>
    public int ReservedBlocks { get; set; }

    /// <summary>The token to feed at the next decode step.</summary>
    public int Next { get; set; }

    /// <summary>Whole blocks already recorded in the prefix cache, and the chain's last node.</summary>
    public int RecordedBlocks { get; set; }

    /// <summary>The prefix cache node of the last recorded block (0: none).</summary>
    public long PrefixParent;

    /// <summary>Set by <see cref="Cancel"/>.</summary>
    public bool IsCancelled => _cancelled || CancellationToken.IsCancellationRequested;

    /// <summary>Asks the scheduler to drop the request at its next step boundary (any thread).</summary>
    public void Cancel() => _cancelled = true;
}
