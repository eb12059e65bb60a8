namespace Tessera.Models.Diffusion.Schedules;

/// <summary>How a discrete-time (DDPM-style) model's noise variances β_t were laid out in training; the names are
/// diffusers' <c>beta_schedule</c> values.</summary>
public enum BetaScheduleKind
{
    /// <summary>"linear": β evenly spaced from β_start to β_end (Ho et al. 2020: 1e-4 to 0.02; DiT).</summary>
    Linear,

    /// <summary>"scaled_linear": √β evenly spaced, then squared (latent diffusion / Stable Diffusion: 0.00085 to 0.012).</summary>
    ScaledLinear,

    /// <summary>"squaredcos_cap_v2": Nichol and Dhariwal's cosine schedule, ᾱ(t) = cos²((t + 0.008) / 1.008 · π/2),
    /// each β capped at 0.999 (β_start and β_end are not used).</summary>
    SquaredCosine,
}

/// <summary>The β_t of the standard schedules, in double precision.</summary>
public static class BetaSchedule
{
    /// <summary>β_0 .. β_{T-1} for <paramref name="kind"/> over <paramref name="trainSteps"/> training timesteps.</summary>
    public static double[] Betas(BetaScheduleKind kind, int trainSteps, double betaStart = 1e-4, double betaEnd = 0.02)
    {
        if (trainSteps < 2) throw new TesseraException($"beta schedule: needs at least 2 training timesteps, got {trainSteps}");
        if (kind != BetaScheduleKind.SquaredCosine && !(betaStart > 0 && betaStart <= betaEnd && betaEnd < 1))
            throw new TesseraException($"beta schedule {kind}: needs 0 < beta_start <= beta_end < 1, got {betaStart} and {betaEnd}");
        var betas = new double[trainSteps];
        for (int i = 0; i < trainSteps; i++)
        {
            double f = (double)i / (trainSteps - 1);
            betas[i] = kind switch
            {
                BetaScheduleKind.Linear => betaStart + f * (betaEnd - betaStart),
                BetaScheduleKind.ScaledLinear => Square(Math.Sqrt(betaStart) + f * (Math.Sqrt(betaEnd) - Math.Sqrt(betaStart))),
                BetaScheduleKind.SquaredCosine => Math.Min(1 - CosineAlphaBar((i + 1.0) / trainSteps) / CosineAlphaBar((double)i / trainSteps), 0.999),
                _ => throw new TesseraException($"beta schedule: unknown kind {kind}"),
            };
        }
        return betas;
    }

    /// <summary>Parses diffusers' names ("linear", "scaled_linear", "squaredcos_cap_v2") and the command line's
    /// ("scaled-linear", "squared-cosine", "cosine").</summary>
    public static BetaScheduleKind Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "linear" => BetaScheduleKind.Linear,
        "scaled_linear" or "scaled-linear" => BetaScheduleKind.ScaledLinear,
        "squaredcos_cap_v2" or "squared-cosine" or "squared_cosine" or "cosine" => BetaScheduleKind.SquaredCosine,
        _ => throw new TesseraException($"unknown beta schedule '{name}': expected linear, scaled-linear or squared-cosine"),
    };

    private static double CosineAlphaBar(double t) => Square(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2));

    private static double Square(double x) => x * x;
}
