namespace Tessera.Models.Diffusion.Samplers;

/// <summary>Euler's method on the probability-flow ODE dx/dσ = (x - D(x; σ))/σ (Karras et al. 2022, eq. 3 and
/// algorithm 1 without churn; k-diffusion's sample_euler). The same ODE holds on the rectified-flow path, where it is
/// flow matching's Euler step x' = x + (σ' - σ)·v̂ (SD3's sampler). First order; equal to DDIM with η = 0.</summary>
public sealed class EulerSampler : Sampler
{
    /// <inheritdoc/>
    public override string Name => "euler";

    /// <inheritdoc/>
    public override bool IsStochastic => false;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double sigma = run.Schedule[i], next = run.Schedule[i + 1];
        using var denoised = run.Denoiser.Denoise(x, sigma);
        // x + (σ' - σ)·(x - D)/σ
        double r = next / sigma;
        return SamplerCatalog.Combine(x, r, denoised, 1 - r);
    }
}
