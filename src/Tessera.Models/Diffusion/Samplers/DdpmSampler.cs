namespace Tessera.Models.Diffusion.Samplers;

/// <summary>DDPM's ancestral sampler (Ho et al. 2020, eq. 6-7): draw x_s from the forward process's posterior
/// q(x_s | x_t, x_0) with x_0 replaced by D(x_t) (<see cref="DdpmPosterior"/>), over strided timesteps as diffusers'
/// DDPMScheduler and the DiT repository's respaced p_sample_loop do. The variance is the "fixed small" β̃, or, when the
/// denoiser predicts one (<see cref="ILearnedVarianceDenoiser"/>: DiT, improved DDPM), the learned range between β̃ and
/// β (Nichol and Dhariwal 2021, eq. 15; DiT's p_mean_variance with LEARNED_RANGE). The last step, to σ = 0, adds no
/// noise.</summary>
public sealed class DdpmSampler : Sampler
{
    /// <summary>A DDPM sampler; <paramref name="learnedVariance"/> false ignores a denoiser's learned variance and uses
    /// β̃ always.</summary>
    public DdpmSampler(bool learnedVariance = true) => LearnedVariance = learnedVariance;

    /// <summary>Whether a denoiser's learned variance is used when it has one.</summary>
    public bool LearnedVariance { get; }

    /// <inheritdoc/>
    public override string Name => "ddpm";

    /// <inheritdoc/>
    public override bool IsStochastic => true;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double sigmaT = run.Schedule[i], sigmaS = run.Schedule[i + 1];
        var posterior = DdpmPosterior.Between(run.Path, sigmaT, sigmaS);
        Tensor denoised;
        Tensor? values = null;
        if (LearnedVariance && run.Denoiser is ILearnedVarianceDenoiser learned) (denoised, values) = learned.DenoiseWithVariance(x, sigmaT);
        else denoised = run.Denoiser.Denoise(x, sigmaT);
        using (denoised)
        using (values)
        {
            var mean = SamplerCatalog.Combine(x, posterior.XCoefficient, denoised, posterior.DenoisedCoefficient);
            if (sigmaS == 0) return mean;
            using (mean)
            {
                if (values is null) return SamplerCatalog.AddNoise(run, mean, Math.Sqrt(posterior.SmallVariance));
                using var std = posterior.LearnedStd(values);
                using var z = run.Noise(x);
                using var scaled = z * std;
                return mean + scaled;
            }
        }
    }
}
