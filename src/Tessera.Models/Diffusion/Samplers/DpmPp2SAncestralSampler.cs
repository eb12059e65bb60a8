using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>DPM-Solver++(2S) with ancestral noise (k-diffusion's sample_dpmpp_2s_ancestral): split the step into
/// σ_down and σ_up (<see cref="SamplerCatalog.AncestralSplit"/>), take a second-order single-step DPM-Solver++ step to
/// (α(σ'), σ_down) through the midpoint in λ (Lu et al. 2022, algorithm 1 with r = 1/2), then add σ_up·z. Two model
/// calls a step; the last step (σ_down = 0) and a step from pure noise (λ = -∞) are first order.</summary>
public sealed class DpmPp2SAncestralSampler : Sampler
{
    /// <summary>A sampler with noise fraction <paramref name="eta"/> (1: full ancestral noise, 0: deterministic DPM++ 2S).</summary>
    public DpmPp2SAncestralSampler(double eta = 1)
    {
        if (!(eta >= 0) || !double.IsFinite(eta)) throw new TesseraException($"sampler dpmpp_2s_a: eta must be finite and >= 0, got {eta}");
        Eta = eta;
    }

    /// <summary>η.</summary>
    public double Eta { get; }

    /// <inheritdoc/>
    public override string Name => "dpmpp_2s_a";

    /// <inheritdoc/>
    public override bool IsStochastic => Eta > 0;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        var path = run.Path;
        double sigma = run.Schedule[i], next = run.Schedule[i + 1];
        using var denoised = run.Denoiser.Denoise(x, sigma);
        var (down, up) = SamplerCatalog.AncestralSplit(path, sigma, next, Eta);
        double alphaNext = path.Alpha(next);
        double lambda = path.Lambda(sigma), h = Math.Log(alphaNext / down) - lambda;
        Tensor moved;
        if (down == 0 || !double.IsFinite(h))
            moved = SamplerCatalog.MoveTo(path, x, denoised, sigma, alphaNext, down);
        else
        {
            double sigmaMid = path.SigmaAtLambda(lambda + h / 2);
            using var mid = SamplerCatalog.Combine(x, sigmaMid / sigma, denoised, -path.Alpha(sigmaMid) * SamplerCatalog.ExpM1(-h / 2));
            using var denoisedMid = run.Denoiser.Denoise(mid, sigmaMid);
            moved = SamplerCatalog.Combine(x, down / sigma, denoisedMid, -alphaNext * SamplerCatalog.ExpM1(-h));
        }
        if (up == 0) return moved;
        using (moved) return SamplerCatalog.AddNoise(run, moved, up);
    }
}
