namespace Tessera.Models.Diffusion.Schedules;

/// <summary>A discrete-time (DDPM) model's training noise schedule: β_t for t = 0 .. T-1, ᾱ_t = Π_{s ≤ t}(1 - β_s), and the
/// variance-exploding noise level σ_t = √((1 - ᾱ_t)/ᾱ_t) of each training timestep (Ho et al. 2020; Karras et al. 2022,
/// table 1). It maps sampling timesteps to sigmas and back, all in double precision.</summary>
public sealed class DiscreteNoiseSchedule
{
    private readonly double[] _betas, _alphasCumprod, _sigmas, _logSigmas;

    private DiscreteNoiseSchedule(double[] betas)
    {
        _betas = betas;
        _alphasCumprod = new double[betas.Length];
        _sigmas = new double[betas.Length];
        _logSigmas = new double[betas.Length];
        double prod = 1;
        for (int t = 0; t < betas.Length; t++)
        {
            if (!(betas[t] > 0 && betas[t] < 1)) throw new TesseraException($"noise schedule: beta[{t}] = {betas[t]} is not in (0, 1)");
            prod *= 1 - betas[t];
            _alphasCumprod[t] = prod;
            _sigmas[t] = Math.Sqrt((1 - prod) / prod);
            _logSigmas[t] = Math.Log(_sigmas[t]);
        }
    }

    /// <summary>The schedule of <paramref name="kind"/> over <paramref name="trainSteps"/> timesteps (diffusers' defaults
    /// are linear 1e-4 .. 0.02 over 1000; Stable Diffusion is scaled-linear 0.00085 .. 0.012).</summary>
    public static DiscreteNoiseSchedule Create(BetaScheduleKind kind, int trainSteps = 1000, double betaStart = 1e-4, double betaEnd = 0.02) =>
        new(BetaSchedule.Betas(kind, trainSteps, betaStart, betaEnd));

    /// <summary>The schedule of explicit β_t (each in (0, 1), at least 2).</summary>
    public static DiscreteNoiseSchedule FromBetas(IReadOnlyList<double> betas)
    {
        ArgumentNullException.ThrowIfNull(betas);
        if (betas.Count < 2) throw new TesseraException($"noise schedule: needs at least 2 betas, got {betas.Count}");
        return new([.. betas]);
    }

    /// <summary>T, the number of training timesteps.</summary>
    public int TrainSteps => _betas.Length;

    /// <summary>β_t.</summary>
    public IReadOnlyList<double> Betas => _betas;

    /// <summary>ᾱ_t.</summary>
    public IReadOnlyList<double> AlphasCumprod => _alphasCumprod;

    /// <summary>σ_t = √((1 - ᾱ_t)/ᾱ_t), rising with t.</summary>
    public IReadOnlyList<double> Sigmas => _sigmas;

    /// <summary>σ_0, the smallest training noise level.</summary>
    public double SigmaMin => _sigmas[0];

    /// <summary>σ_{T-1}, the largest.</summary>
    public double SigmaMax => _sigmas[^1];

    /// <summary>σ at a fractional timestep t in [0, T-1], linear between neighbouring training timesteps (diffusers'
    /// np.interp).</summary>
    public double SigmaAt(double t)
    {
        if (!(t >= 0 && t <= TrainSteps - 1)) throw new TesseraException($"noise schedule: timestep {t} is outside [0, {TrainSteps - 1}]");
        int lo = Math.Min((int)Math.Floor(t), TrainSteps - 2);
        double w = t - lo;
        return (1 - w) * _sigmas[lo] + w * _sigmas[lo + 1];
    }

    /// <summary>The fractional timestep of noise level <paramref name="sigma"/>, interpolating ln σ between neighbouring
    /// training timesteps (k-diffusion's sigma_to_t, diffusers' _sigma_to_t); clamped to [0, T-1].</summary>
    public double TimestepOf(double sigma)
    {
        if (!(sigma > 0)) throw new TesseraException($"noise schedule: no timestep for sigma {sigma}");
        double ls = Math.Log(sigma);
        if (ls <= _logSigmas[0]) return 0;
        if (ls >= _logSigmas[^1]) return TrainSteps - 1;
        int hi = Array.BinarySearch(_logSigmas, ls);
        if (hi >= 0) return hi;
        hi = ~hi;
        int lo = hi - 1;
        double w = (ls - _logSigmas[lo]) / (_logSigmas[hi] - _logSigmas[lo]);
        return lo + w;
    }

    /// <summary>The <paramref name="steps"/> sampling timesteps, falling, as diffusers' <c>set_timesteps</c> picks them
    /// (<paramref name="stepsOffset"/> is added by the leading spacing only, as there).</summary>
    public double[] Timesteps(int steps, TimestepSpacing spacing = TimestepSpacing.Leading, int stepsOffset = 0)
    {
        SamplingSchedule.CheckSteps(steps);
        int T = TrainSteps;
        if (steps > T) throw new TesseraException($"noise schedule: {steps} steps is more than the {T} training timesteps");
        var ts = new double[steps];
        double respacedStride = steps == 1 ? 0 : (T - 1.0) / (steps - 1);
        for (int i = 0; i < steps; i++)
        {
            int k = steps - 1 - i; // ts[i] is the k-th smallest
            ts[i] = spacing switch
            {
                TimestepSpacing.Respaced => steps == 1 ? T - 1 : Math.Round(StridedSum(respacedStride, k), MidpointRounding.ToEven),
                TimestepSpacing.Leading => k * (T / steps) + stepsOffset,
                TimestepSpacing.Trailing => Math.Round(T - i * ((double)T / steps), MidpointRounding.ToEven) - 1,
                TimestepSpacing.Linspace => steps == 1 ? T - 1 : (T - 1) * (double)k / (steps - 1),
                _ => throw new TesseraException($"noise schedule: unknown spacing {spacing}"),
            };
            if (ts[i] > T - 1) throw new TesseraException($"noise schedule: steps offset {stepsOffset} puts timestep {ts[i]} past {T - 1}");
        }
        return ts;
    }

    // space_timesteps adds the stride up in floating point (cur_idx += frac_stride), so its k-th index is this sum, not k x stride.
    private static double StridedSum(double stride, int k)
    {
        double sum = 0;
        for (int j = 0; j < k; j++) sum += stride;
        return sum;
    }

    /// <summary>The sigmas of <see cref="Timesteps"/>, then 0.</summary>
    public SamplingSchedule Schedule(int steps, TimestepSpacing spacing = TimestepSpacing.Leading, int stepsOffset = 0)
    {
        var ts = Timesteps(steps, spacing, stepsOffset);
        var sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) sigmas[i] = SigmaAt(ts[i]);
        return new SamplingSchedule(sigmas);
    }

    /// <summary>Karras sigmas between this schedule's σ_min and σ_max.</summary>
    public SamplingSchedule KarrasSchedule(int steps, double rho = 7) => new(KarrasSigmas.Sigmas(steps, SigmaMin, SigmaMax, rho));
}
