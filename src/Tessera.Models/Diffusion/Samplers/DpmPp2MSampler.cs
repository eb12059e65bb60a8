using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>DPM-Solver++(2M) (Lu et al. 2022, algorithm 2; k-diffusion's sample_dpmpp_2m), second-order multistep in the
/// data-prediction form, for any α, σ: with λ = ln(α/σ) and h = λ' - λ,
/// x' = (σ'/σ)·x - α'·(e^{-h} - 1)·D̃, where D̃ = (1 + 1/(2r))·D_i - 1/(2r)·D_{i-1} and r = h_{i-1}/h (D̃ = D_i on the first
/// step, on the last step to σ = 0, and after a step from pure noise where h is infinite). One model call a step.
/// "DPM++ 2M Karras" is this sampler on Karras sigmas.</summary>
public sealed class DpmPp2MSampler : Sampler
{
    /// <inheritdoc/>
    public override string Name => "dpmpp_2m";

    /// <inheritdoc/>
    public override bool IsStochastic => false;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double sigma = run.Schedule[i], next = run.Schedule[i + 1];
        var denoised = run.Denoiser.Denoise(x, sigma);
        try
        {
            if (next == 0) return denoised.Affine(run.Path.Alpha(0));
            double h = run.Path.Lambda(next) - run.Path.Lambda(sigma);
            double ratio = next / sigma, cD = -run.Path.Alpha(next) * SamplerCatalog.ExpM1(-h);
            if (run.Previous is null || !double.IsFinite(h) || !double.IsFinite(run.PreviousH))
                return SamplerCatalog.Combine(x, ratio, denoised, cD);
            double r = run.PreviousH / h;
            using var blended = SamplerCatalog.Combine(denoised, 1 + 1 / (2 * r), run.Previous, -1 / (2 * r));
            return SamplerCatalog.Combine(x, ratio, blended, cD);
        }
        finally
        {
            run.PreviousH = next == 0 ? double.NaN : run.Path.Lambda(next) - run.Path.Lambda(sigma);
            run.Remember(denoised);
        }
    }
}
