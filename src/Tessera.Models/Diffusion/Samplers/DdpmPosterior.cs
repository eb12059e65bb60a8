using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>One DDPM step from σ_t down to σ_s in a denoiser's coordinates (x = α(σ)·x_0 + σ·ε), written for any α, σ as in
/// Kingma et al. (2021, eq. 28-29): with α_{t|s} = α_t/α_s and σ²_{t|s} = σ_t² - α²_{t|s}·σ_s², the posterior
/// q(x_s | x_t, x_0) has mean α_{t|s}·σ_s²/σ_t²·x_t + α_s·σ²_{t|s}/σ_t²·x_0 and variance β̃ = σ²_{t|s}·σ_s²/σ_t² (DDPM's
/// "fixed small"); the forward step's own variance β (DDPM's "fixed large"), carried to the same coordinates, is
/// σ²_{t|s}·(α_s² + σ_s²)/(α_t² + σ_t²). On the variance-exploding path these are a DDPM's posterior_variance and betas of
/// the (respaced) chain, divided by ᾱ_s.</summary>
/// <param name="XCoefficient">The mean's factor on x_t.</param>
/// <param name="DenoisedCoefficient">The mean's factor on x_0 (the denoised estimate).</param>
/// <param name="SmallVariance">β̃: the posterior's variance (0 when σ_s = 0).</param>
/// <param name="LargeVariance">β: the forward step's variance.</param>
public readonly record struct DdpmPosterior(double XCoefficient, double DenoisedCoefficient, double SmallVariance, double LargeVariance)
{
    /// <summary>The step from <paramref name="sigmaT"/> to <paramref name="sigmaS"/> (&lt; σ_t) on <paramref name="path"/>.</summary>
    public static DdpmPosterior Between(NoisePath path, double sigmaT, double sigmaS)
    {
        if (!(sigmaT > sigmaS && sigmaS >= 0)) throw new TesseraException($"DDPM step: needs sigma_t > sigma_s >= 0, got {sigmaT} and {sigmaS}");
        double alphaT = path.Alpha(sigmaT), alphaS = path.Alpha(sigmaS);
        double alphaTs = alphaT / alphaS;
        double varTs = Math.Max(0, sigmaT * sigmaT - alphaTs * alphaTs * sigmaS * sigmaS);
        double t2 = sigmaT * sigmaT, s2 = sigmaS * sigmaS;
        return new DdpmPosterior(alphaTs * s2 / t2, alphaS * varTs / t2, varTs * s2 / t2,
            varTs * (alphaS * alphaS + s2) / (alphaT * alphaT + t2));
    }

    /// <summary>improved DDPM's learned range for one value v: ln σ² = f·ln β + (1 - f)·ln β̃ with f = (v + 1)/2 (not
    /// clamped, as the DiT repository's p_mean_variance does not clamp).</summary>
    public double LearnedLogVariance(double v)
    {
        double f = (v + 1) / 2;
        return f * Math.Log(LargeVariance) + (1 - f) * Math.Log(SmallVariance);
    }

    /// <summary>The standard deviation exp(ln σ²/2) of <see cref="LearnedLogVariance"/> for every value of
    /// <paramref name="values"/>, as a new tensor: exp(a + b·v) with a = (ln β + ln β̃)/4 and b = (ln β - ln β̃)/4.</summary>
    public Tensor LearnedStd(Tensor values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!(SmallVariance > 0)) throw new TesseraException("DDPM step: the last step (to sigma 0) has no variance to learn");
        double lnLarge = Math.Log(LargeVariance), lnSmall = Math.Log(SmallVariance);
        using var exponent = values.Affine((lnLarge - lnSmall) / 4, (lnLarge + lnSmall) / 4);
        return exponent.Map(UnaryOp.Exp);
    }
}
