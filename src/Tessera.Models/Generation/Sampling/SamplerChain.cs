using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation.Constraints;

namespace Tessera.Models.Generation.Sampling;

/// <summary>One sequence's sampler: llama.cpp's chain in its order (logit bias, the grammar's mask, repetition /
/// frequency / presence penalties over the last N tokens, top-k, typical, top-p, min-p, temperature, a seeded draw;
/// greedy at temperature 0, the first of tied maxima). <see cref="Accept"/> feeds each chosen token back (penalty
/// window, grammar state). Not thread-safe: one chain per sequence, which any thread may drive.</summary>
public sealed class SamplerChain
{
    private readonly GenerationOptions _options;
    private readonly Random? _random;
    private readonly List<int> _history = [];
    private readonly TokenCandidates _candidates = new();
    private readonly HashSet<int> _stopTokens;

    /// <summary>A chain for <paramref name="options"/>; <paramref name="tokenizer"/> is needed for a grammar constraint
    /// (its tokens' bytes). The options' stop tokens are the only tokens a grammar lets through once complete.</summary>
    public SamplerChain(GenerationOptions options, ITokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _stopTokens = [.. options.StopTokens];
        if (options.Temperature > 0) _random = options.Seed is { } s ? new Random(s) : new Random();
        if (options.Constraint is { } c)
        {
            if (tokenizer is null) throw new TesseraException("sampler: a grammar constraint needs the model's tokenizer");
            Grammar = c.CreateMatcher(tokenizer);
        }
    }

    /// <summary>The grammar state of this sequence, when the options constrain the output.</summary>
    public GrammarMatcher? Grammar { get; }

    /// <summary>The candidates as the last <see cref="Sample"/> left them before the draw (for inspection).</summary>
    public TokenCandidates Candidates => _candidates;

    /// <summary>Puts prompt tokens into the penalty window (the grammar is not fed: it constrains the output only).</summary>
    public void AcceptPrompt(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens) _history.Add(t);
    }

    /// <summary>Feeds the chosen token back: into the penalty window and, when constrained, through the grammar.</summary>
    public void Accept(int token)
    {
        _history.Add(token);
        if (Grammar is not null && !_stopTokens.Contains(token)) Grammar.Accept(token);
    }

    /// <summary>Picks the next token from <paramref name="logits"/> (one per vocabulary entry; modified in place). A NaN
    /// logit is an error (a broken model must not pick token 0).</summary>
    public int Sample(Span<float> logits)
    {
        if (logits.IsEmpty) throw new TesseraException("sampler: empty logits");
        // One vectorized pass finds out whether there is a NaN at all (Max is NaN then); the slow search only names it.
        if (float.IsNaN(MaxOrNaN(logits)))
            for (int i = 0; i < logits.Length; i++)
                if (float.IsNaN(logits[i])) throw new TesseraException($"sampler: the logit of token {i} is NaN");
        var o = _options;
        if (o.LogitBias.Count > 0) SamplingStages.LogitBias(logits, o.LogitBias);
        int n = o.RepeatLastN < 0 ? _history.Count : Math.Min(o.RepeatLastN, _history.Count);
        var window = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_history)[(_history.Count - n)..];
        if (_random is null)
        {
            // Greedy: the penalties do not touch a masked (-infinity) token, so the argmax can be tried against the
            // grammar before the whole mask is built; it is built only when that token is not allowed.
            SamplingStages.Penalties(logits, window, o.RepeatPenalty, o.FrequencyPenalty, o.PresencePenalty);
            int best = ArgMax(logits);
            if (Grammar is null || Grammar.Allows(best, _stopTokens)) return best;
            Grammar.ApplyMask(logits, _stopTokens);
            return ArgMax(logits);
        }
        Grammar?.ApplyMask(logits, _stopTokens);
        SamplingStages.Penalties(logits, window, o.RepeatPenalty, o.FrequencyPenalty, o.PresencePenalty);
        var c = _candidates;
        c.Reset(logits);
        if (c.Count == 0) throw new TesseraException("sampler: every token is banned (logit bias or grammar)");
        SamplingStages.TopK(c, o.TopK);
        SamplingStages.Typical(c, o.Typical);
        SamplingStages.TopP(c, o.TopP);
        SamplingStages.MinP(c, o.MinP);
        SamplingStages.Temperature(c, o.Temperature);
        return SamplingStages.Draw(c, _random);
    }

    /// <summary>The largest value, or NaN when any is NaN, in one vectorized pass.</summary>
    private static float MaxOrNaN(ReadOnlySpan<float> x)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<float>.Count)
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            var vmax = Vector256.Create(float.NegativeInfinity);
            var nan = Vector256<float>.Zero;
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref x0, (nuint)i);
                nan |= ~Vector256.Equals(v, v); // all ones in a NaN lane
                vmax = Vector256.Max(vmax, v);
            }
            if (nan != Vector256<float>.Zero) return float.NaN;
            for (int k = 0; k < Vector256<float>.Count; k++) if (vmax[k] > max) max = vmax[k];
        }
        for (; i < x.Length; i++)
        {
            if (float.IsNaN(x[i])) return float.NaN;
            if (x[i] > max) max = x[i];
        }
        return max;
    }

    /// <summary>The first token with the largest logit (no NaN: checked on entry): the maximum in one vectorized pass, then
    /// its first occurrence (-0 and +0 compare equal, as a scalar "greater than" scan sees them). A 32000-token vocabulary
    /// took two scalar passes per decode step before.</summary>
    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        float max = MaxOrNaN(logits);
        if (float.IsNegativeInfinity(max)) throw new TesseraException("sampler: every token is banned (logit bias or grammar)");
        for (int i = 0; i < logits.Length; i++) if (logits[i] == max) return i;
        throw new InvalidOperationException("unreachable: the maximum is one of the logits");
    }
}
