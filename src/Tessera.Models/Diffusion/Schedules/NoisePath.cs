namespace Tessera.Models.Diffusion.Schedules;

/// <summary>How a model's noisy sample is formed from data x_0 and unit noise ε at noise level σ: x = α(σ)·x_0 + σ·ε.
/// The samplers work in the model's own coordinates through α(σ) and the half log-SNR λ(σ) = ln(α/σ) of Lu et al.
/// (DPM-Solver), so one sampler serves both paths.</summary>
public enum NoisePath
{
    /// <summary>x = x_0 + σ·ε (Karras et al.'s variance-exploding form; a DDPM's x_t/√ᾱ_t, σ = √((1 - ᾱ)/ᾱ)).</summary>
    VarianceExploding,

    /// <summary>x = (1 - σ)·x_0 + σ·ε with σ in [0, 1] (rectified flow: SD3, FLUX).</summary>
    RectifiedFlow,
}

/// <summary>α, λ and their inverses for a <see cref="NoisePath"/>.</summary>
public static class NoisePathMath
{
    /// <summary>The data coefficient α(σ).</summary>
    public static double Alpha(this NoisePath path, double sigma) => path == NoisePath.RectifiedFlow ? 1 - sigma : 1;

    /// <summary>λ(σ) = ln(α/σ): +∞ at σ = 0, -∞ where α = 0 (pure noise on the flow path).</summary>
    public static double Lambda(this NoisePath path, double sigma) => sigma == 0 ? double.PositiveInfinity
        : path == NoisePath.RectifiedFlow ? Math.Log(1 - sigma) - Math.Log(sigma) : -Math.Log(sigma);

    /// <summary>The σ whose λ is <paramref name="lambda"/>.</summary>
    public static double SigmaAtLambda(this NoisePath path, double lambda) =>
        path == NoisePath.RectifiedFlow ? 1 / (1 + Math.Exp(lambda)) : Math.Exp(-lambda);

    /// <summary>The largest σ the path allows (∞, or 1 for a flow).</summary>
    public static double MaxSigma(this NoisePath path) => path == NoisePath.RectifiedFlow ? 1 : double.PositiveInfinity;
}
