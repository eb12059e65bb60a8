using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>DDPM's ancestral sampler (Ho et al. 2020, eq. 6-7, with the "fixed small" variance β̃): draw x_s from the
/// forward process's posterior q(x_s | x_t, x_0) with x_0 replaced by D(x_t). Written for any α, σ as in Kingma et al.
/// (2021, eq. 28-29): with α_{t|s} = α_t/α_s and σ²_{t|s} = σ_t² - α²_{t|s}·σ_s², the posterior has mean
/// α_{t|s}·σ_s²/σ_t²·x_t + α_s·σ²_{t|s}/σ_t²·x_0 and variance σ²_{t|s}·σ_s²/σ_t². Over strided timesteps this is
/// diffusers' DDPMScheduler.</summary>
public sealed class DdpmSampler : Sampler
{
    /// <inheritdoc/>
    public override string Name => "ddpm";

    /// <inheritdoc/>
    public override bool IsStochastic => true;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double sigmaT = run.Schedule[i], sigmaS = run.Schedule[i + 1];
        double alphaT = run.Path.Alpha(sigmaT), alphaS = run.Path.Alpha(sigmaS);
        using var denoised = run.Denoiser.Denoise(x, sigmaT);
        double alphaTs = alphaT / alphaS;
        double varTs = Math.Max(0, sigmaT * sigmaT - alphaTs * alphaTs * sigmaS * sigmaS);
        double cx = alphaTs * sigmaS * sigmaS / (sigmaT * sigmaT), c0 = alphaS * varTs / (sigmaT * sigmaT);
        var mean = SamplerCatalog.Combine(x, cx, denoised, c0);
        if (sigmaS == 0) return mean;
        using (mean) return SamplerCatalog.AddNoise(run, mean, Math.Sqrt(varTs) * sigmaS / sigmaT);
    }
}
