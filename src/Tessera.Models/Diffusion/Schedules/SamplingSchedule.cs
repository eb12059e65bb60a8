namespace Tessera.Models.Diffusion.Schedules;

/// <summary>The noise levels a sampler walks through: σ_0 &gt; σ_1 &gt; ... &gt; σ_N = 0, one step between each pair.
/// A σ is the model's own noise parameter (see <see cref="NoisePath"/>): k-diffusion's σ = √((1 - ᾱ)/ᾱ) for
/// epsilon- and v-prediction models, the flow time s for rectified-flow models.</summary>
public sealed class SamplingSchedule
{
    private readonly double[] _sigmas;

    /// <summary>Wraps <paramref name="sigmas"/> (copied), which must fall strictly to a final 0.</summary>
    public SamplingSchedule(IReadOnlyList<double> sigmas)
    {
        ArgumentNullException.ThrowIfNull(sigmas);
        if (sigmas.Count < 2) throw new TesseraException($"sampling schedule: needs at least 2 sigmas (one step), got {sigmas.Count}");
        _sigmas = [.. sigmas];
        if (_sigmas[^1] != 0) throw new TesseraException($"sampling schedule: the last sigma must be 0, got {_sigmas[^1]}");
        for (int i = 0; i + 1 < _sigmas.Length; i++)
            if (!(double.IsFinite(_sigmas[i]) && _sigmas[i] > _sigmas[i + 1]))
                throw new TesseraException($"sampling schedule: sigmas must be finite and fall strictly, but sigma[{i}] = {_sigmas[i]} and sigma[{i + 1}] = {_sigmas[i + 1]}");
    }

    /// <summary>The sigmas, ending with 0.</summary>
    public IReadOnlyList<double> Sigmas => _sigmas;

    /// <summary>Number of steps (one less than the sigmas).</summary>
    public int Steps => _sigmas.Length - 1;

    /// <summary>The sigma before step <paramref name="i"/>.</summary>
    public double this[int i] => _sigmas[i];

    /// <summary>Throws unless <paramref name="steps"/> is at least 1.</summary>
    public static void CheckSteps(int steps)
    {
        if (steps < 1) throw new TesseraException($"sampling needs at least 1 step, got {steps}");
    }

    /// <summary>"[14.61, 9.72, ..., 0]".</summary>
    public override string ToString() => $"[{string.Join(", ", _sigmas.Select(s => s.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)))}]";
}
