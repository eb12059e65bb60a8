namespace Tessera.Models.Generation;

/// <summary>What one generation run did and how long it took, filled in as it runs.</summary>
public sealed class GenerationStats
{
    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; internal set; }

    /// <summary>Seconds of the prompt's forward pass (prefill), which also yields the first token's logits.</summary>
    public double PrefillSeconds { get; internal set; }

    /// <summary>Tokens generated (without the stop token).</summary>
    public int GeneratedTokens { get; internal set; }

    /// <summary>Forward passes after the prefill (each one feeds a generated token back).</summary>
    public int DecodeSteps { get; internal set; }

    /// <summary>Seconds of those decode steps (forward and sampling).</summary>
    public double DecodeSeconds { get; internal set; }

    /// <summary>Seconds spent choosing tokens (the sampling chain, a grammar's mask included), within the prefill and
    /// decode times.</summary>
    public double SamplingSeconds { get; internal set; }

    /// <summary>Why the run ended (null while it runs, or when it was cancelled).</summary>
    public StopReason? Stop { get; internal set; }

    /// <summary>Text released only when the run ended (held back as a possible stop-string start, or flushed bytes): it
    /// follows the last token's <see cref="GeneratedToken.Text"/>. Empty without a tokenizer.</summary>
    public string TrailingText { get; internal set; } = "";

    /// <summary>Prompt tokens per second of prefill.</summary>
    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptTokens / PrefillSeconds : 0;

    /// <summary>Decode steps per second: the tokens after the first over their time.</summary>
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? DecodeSteps / DecodeSeconds : 0;

    /// <summary>Milliseconds per decode step.</summary>
    public double DecodeMsPerToken => DecodeSteps > 0 ? DecodeSeconds * 1000 / DecodeSteps : 0;
}
