using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>The latent consistency model's multistep sampler (Luo et al. 2023, algorithm 1; k-diffusion's sample_lcm):
/// take the model's clean estimate D, then noise it afresh to the next level, α(σ')·D + σ'·z. Meant for consistency-
/// distilled models at 1-8 steps; on an ordinary model it is a very noisy ancestral sampler.</summary>
public sealed class LcmSampler : Sampler
{
    /// <inheritdoc/>
    public override string Name => "lcm";

    /// <inheritdoc/>
    public override bool IsStochastic => true;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double next = run.Schedule[i + 1];
        using var denoised = run.Denoiser.Denoise(x, run.Schedule[i]);
        if (next == 0) return denoised.Affine(run.Path.Alpha(0));
        using var z = run.Noise(x);
        return SamplerCatalog.Combine(denoised, run.Path.Alpha(next), z, next);
    }
}
