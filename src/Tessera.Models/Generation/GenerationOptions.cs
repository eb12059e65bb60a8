using Tessera.Models.Generation.Constraints;

namespace Tessera.Models.Generation;

/// <summary>How <see cref="TextGenerator"/> picks and stops. The sampling stages run in llama.cpp's order: logit bias,
/// the grammar's mask, repetition / frequency / presence penalties over the last <see cref="RepeatLastN"/> tokens,
/// top-k, typical, top-p, min-p, temperature, then a seeded draw (see <see cref="Sampling.SamplerChain"/>). Every
/// stage's default switches it off.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens generated (the stop reason is then <see cref="StopReason.Length"/>).</summary>
    public int MaxTokens { get; init; } = 128;

    /// <summary>0: greedy (the most likely token, the first on ties, as llama.cpp's greedy sampler); above 0: sample from
    /// softmax(logits / temperature).</summary>
    public float Temperature { get; init; }

    /// <summary>Seeds the sampling draw, so that a seeded run repeats exactly; null: a random seed.</summary>
    public int? Seed { get; init; }

    /// <summary>Token ids that end generation (the model's EOS); they are not part of the output.</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    /// <summary>Keep the k most likely tokens (0: all).</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the most likely tokens until their probability reaches this (1: all).</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Keep tokens at least this fraction as likely as the top one (0: all).</summary>
    public float MinP { get; init; }

    /// <summary>Locally typical sampling's mass (1: off).</summary>
    public float Typical { get; init; } = 1f;

    /// <summary>Repetition penalty over the window: a positive logit is divided by it, a negative one multiplied (1: off).</summary>
    public float RepeatPenalty { get; init; } = 1f;

    /// <summary>The penalties' window: the last N tokens (prompt included); 0: no penalties, -1: the whole context.</summary>
    public int RepeatLastN { get; init; } = 64;

    /// <summary>Subtracted once from the logit of every token in the window (0: off).</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Subtracted from a token's logit once per occurrence in the window (0: off).</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Added to the named tokens' logits first (-infinity bans a token).</summary>
    public IReadOnlyDictionary<int, float> LogitBias { get; init; } = new Dictionary<int, float>();

    /// <summary>Texts that end generation when the detokenized output contains them (matched across token boundaries);
    /// the text from the stop string on is not output. Needs a tokenizer (<see cref="TextGenerator"/>'s).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Constrained output: only tokens that keep the text a prefix of a document of this grammar are allowed,
    /// and a stop token only once the document is complete. Needs a tokenizer.</summary>
    public GrammarConstraint? Constraint { get; init; }

    /// <summary>Keep keys and values in a <see cref="PagedKvCache"/> (blocks, paged attention) instead of one contiguous
    /// buffer per layer.</summary>
    public bool PagedCache { get; init; }

    /// <summary>The KV cache's element type: f32, or f16 (llama.cpp's default: half the cache memory and half the bytes
    /// each step's attention reads; keys and values are rounded to f16 as they are stored).</summary>
    public DType KvCacheType { get; init; } = DType.F32;

    /// <summary>Throws naming the bad value.</summary>
    public void Validate()
    {
        if (MaxTokens < 0) throw new TesseraException($"generation: max tokens must be 0 or more, got {MaxTokens}");
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
            throw new TesseraException($"generation: the temperature must be a finite number >= 0, got {Temperature}");
        if (KvCacheType is not (DType.F32 or DType.F16))
            throw new TesseraException($"generation: the KV cache type must be f32 or f16, got {KvCacheType.Name()}");
        if (TopK < 0) throw new TesseraException($"generation: top-k must be 0 (off) or more, got {TopK}");
        Check("top-p", TopP);
        Check("min-p", MinP);
        Check("typical", Typical);
        if (!(RepeatPenalty > 0) || float.IsInfinity(RepeatPenalty))
            throw new TesseraException($"generation: the repeat penalty must be a finite number > 0, got {RepeatPenalty}");
        if (RepeatLastN < -1) throw new TesseraException($"generation: repeat-last-n must be -1 (the whole context), 0 (off) or more, got {RepeatLastN}");
        if (!float.IsFinite(PresencePenalty)) throw new TesseraException($"generation: the presence penalty must be finite, got {PresencePenalty}");
        if (!float.IsFinite(FrequencyPenalty)) throw new TesseraException($"generation: the frequency penalty must be finite, got {FrequencyPenalty}");
        foreach (var (id, b) in LogitBias)
            if (id < 0 || float.IsNaN(b) || float.IsPositiveInfinity(b))
                throw new TesseraException($"generation: bad logit bias {id}={b} (a token id >= 0 and a finite bias or -infinity)");
        foreach (string s in StopStrings)
            if (string.IsNullOrEmpty(s)) throw new TesseraException("generation: a stop string is empty");
    }

    private static void Check(string name, float p)
    {
        if (!(p >= 0 && p <= 1)) throw new TesseraException($"generation: {name} must be in [0, 1], got {p}");
    }
}

/// <summary>Why generation ended.</summary>
public enum StopReason
{
    /// <summary>The model produced a stop (EOS) token.</summary>
    Eos,
    /// <summary>The token limit or the end of the context was reached.</summary>
    Length,
    /// <summary>The output reached one of the stop strings.</summary>
    StopString,
}

/// <summary>One generated token.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Index">0 for the first generated token, then 1, 2, ...</param>
public readonly record struct GeneratedToken(int Id, int Index)
{
    /// <summary>The text this token releases when the generator has a tokenizer: complete UTF-8 only, without what could
    /// still become a stop string (held back until it cannot) and without a stop string and what follows it. Text still
    /// held when the run ends is in <see cref="GenerationStats.TrailingText"/>.</summary>
    public string Text { get; init; } = "";
}
