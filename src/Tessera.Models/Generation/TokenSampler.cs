using Tessera.Models.Generation.Sampling;

namespace Tessera.Models.Generation;

/// <summary>Picks the next token from a row of logits: greedy (argmax, first on ties) at temperature 0, otherwise a
/// draw from softmax(logits / T) with a seeded generator (the same seed gives the same tokens). The temperature-only
/// case of <see cref="SamplerChain"/>, kept for callers that need nothing more.</summary>
public sealed class TokenSampler
{
    private readonly SamplerChain _chain;
    private float[] _row = [];

    /// <summary>A sampler at <paramref name="temperature"/> (0: greedy), seeded by <paramref name="seed"/> (null: random).</summary>
    public TokenSampler(float temperature, int? seed)
    {
        if (!(temperature >= 0) || float.IsInfinity(temperature))
            throw new TesseraException($"sampler: the temperature must be a finite number >= 0, got {temperature}");
        _chain = new SamplerChain(new GenerationOptions { Temperature = temperature, Seed = seed });
    }

    /// <summary>The chosen token id. A logits row with a NaN is an error (a broken model must not pick token 0).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (_row.Length != logits.Length) _row = new float[logits.Length];
        logits.CopyTo(_row);
        return _chain.Sample(_row);
    }
}
