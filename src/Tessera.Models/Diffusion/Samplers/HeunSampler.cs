namespace Tessera.Models.Diffusion.Samplers;

/// <summary>Heun's second-order method on dx/dσ = (x - D(x; σ))/σ (Karras et al. 2022, algorithm 1 with S_churn = 0;
/// k-diffusion's sample_heun): an Euler step, then the average of the slopes at both ends; the last step, to σ = 0, is
/// plain Euler. Two model calls a step.</summary>
public sealed class HeunSampler : Sampler
{
    /// <inheritdoc/>
    public override string Name => "heun";

    /// <inheritdoc/>
    public override bool IsStochastic => false;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double sigma = run.Schedule[i], next = run.Schedule[i + 1], dt = next - sigma;
        using var denoised = run.Denoiser.Denoise(x, sigma);
        using var d = SamplerCatalog.Combine(x, 1 / sigma, denoised, -1 / sigma);
        var euler = SamplerCatalog.Combine(x, 1, d, dt);
        if (next == 0) return euler;
        using (euler)
        {
            using var denoised2 = run.Denoiser.Denoise(euler, next);
            using var d2 = SamplerCatalog.Combine(euler, 1 / next, denoised2, -1 / next);
            using var slope = SamplerCatalog.Combine(d, 0.5, d2, 0.5);
            return SamplerCatalog.Combine(x, 1, slope, dt);
        }
    }
}
