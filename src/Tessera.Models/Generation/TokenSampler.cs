namespace Tessera.Models.Generation;

/// <summary>Picks the next token from a row of logits: greedy (argmax, first on ties) at temperature 0, otherwise a
/// draw from softmax(logits / T) with a seeded generator (the same seed gives the same tokens).</summary>
public sealed class TokenSampler
{
    private readonly float _temperature;
    private readonly Random? _random;
    private double[] _probs = [];

    /// <summary>A sampler at <paramref name="temperature"/> (0: greedy), seeded by <paramref name="seed"/> (null: random).</summary>
    public TokenSampler(float temperature, int? seed)
    {
        if (!(temperature >= 0) || float.IsInfinity(temperature))
            throw new TesseraException($"sampler: the temperature must be a finite number >= 0, got {temperature}");
        _temperature = temperature;
        if (temperature > 0) _random = seed is { } s ? new Random(s) : new Random();
    }

    /// <summary>The chosen token id. A logits row with a NaN is an error (a broken model must not pick token 0).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new TesseraException("sampler: empty logits");
        int best = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNaN(logits[i])) throw new TesseraException($"sampler: the logit of token {i} is NaN");
            if (logits[i] > logits[best]) best = i;
        }
        if (_random is null) return best;
        if (_probs.Length != logits.Length) _probs = new double[logits.Length];
        // Softmax in double, shifted by the maximum so that no exponent overflows.
        double max = logits[best], inv = 1.0 / _temperature, sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += _probs[i] = Math.Exp((logits[i] - max) * inv);
        double u = _random.NextDouble() * sum, acc = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            acc += _probs[i];
            if (u < acc) return i;
        }
        return best; // u landed on the rounding slack at the top: the likeliest token
    }
}
