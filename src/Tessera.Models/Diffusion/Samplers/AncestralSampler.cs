using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>The ancestral first-order step: DDIM (Song et al. 2021, eq. 12) with its η, which is Euler ancestral
/// (k-diffusion's sample_euler_ancestral) when η = 1: move deterministically to α(σ')·D + σ_down·ε̂, then add fresh noise
/// σ_up·z, with σ_up = η × the DDPM posterior's standard deviation (<see cref="SamplerCatalog.AncestralSplit"/>). η = 0 is
/// deterministic DDIM, the same as Euler.</summary>
public sealed class AncestralSampler : Sampler
{
    /// <summary>A sampler with noise fraction <paramref name="eta"/> (0 to 1; more is allowed and clipped at σ').</summary>
    public AncestralSampler(double eta = 1, string name = "euler_a")
    {
        if (!(eta >= 0) || !double.IsFinite(eta)) throw new TesseraException($"sampler {name}: eta must be finite and >= 0, got {eta}");
        Eta = eta;
        Name = name;
    }

    /// <summary>η.</summary>
    public double Eta { get; }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override bool IsStochastic => Eta > 0;

    /// <inheritdoc/>
    protected override Tensor Step(SamplerRun run, Tensor x, int i)
    {
        double sigma = run.Schedule[i], next = run.Schedule[i + 1];
        using var denoised = run.Denoiser.Denoise(x, sigma);
        var (down, up) = SamplerCatalog.AncestralSplit(run.Path, sigma, next, Eta);
        var moved = SamplerCatalog.MoveTo(run.Path, x, denoised, sigma, run.Path.Alpha(next), down);
        if (up == 0) return moved;
        using (moved) return SamplerCatalog.AddNoise(run, moved, up);
    }
}
