using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>Classifier-free guidance (Ho and Salimans 2022): D = D_u + s·(D_c - D_u) from a conditional and an
/// unconditional denoiser. Guiding the denoised estimate is the same as guiding ε, v or the flow velocity, since at a
/// fixed x and σ each is an affine function of the others. A model that runs both in one batch (DiT with its null class)
/// combines its own outputs with <see cref="Combine"/> instead. A conditional denoiser with learned variance keeps it:
/// the guided step takes the conditional branch's variance, as DiT's forward_with_cfg does.</summary>
public sealed class GuidedDenoiser : ILearnedVarianceDenoiser
{
    private readonly IDenoiser _conditional, _unconditional;

    /// <summary>Guides <paramref name="conditional"/> away from <paramref name="unconditional"/> at scale
    /// <paramref name="scale"/> (1: the conditional model alone).</summary>
    public GuidedDenoiser(IDenoiser conditional, IDenoiser unconditional, double scale)
    {
        _conditional = conditional ?? throw new ArgumentNullException(nameof(conditional));
        _unconditional = unconditional ?? throw new ArgumentNullException(nameof(unconditional));
        if (conditional.Path != unconditional.Path)
            throw new TesseraException($"guidance: the two denoisers follow different noise paths ({conditional.Path}, {unconditional.Path})");
        if (!double.IsFinite(scale)) throw new TesseraException($"guidance: the scale must be finite, got {scale}");
        Scale = scale;
    }

    /// <summary>The guidance scale s.</summary>
    public double Scale { get; }

    /// <inheritdoc/>
    public NoisePath Path => _conditional.Path;

    /// <inheritdoc/>
    public double SigmaMax => Math.Min(_conditional.SigmaMax, _unconditional.SigmaMax);

    /// <inheritdoc/>
    public Tensor Denoise(Tensor x, double sigma)
    {
        using var c = _conditional.Denoise(x, sigma);
        using var u = _unconditional.Denoise(x, sigma);
        return Combine(c, u, Scale);
    }

    /// <inheritdoc/>
    public (Tensor Denoised, Tensor? VarianceValues) DenoiseWithVariance(Tensor x, double sigma)
    {
        if (_conditional is not ILearnedVarianceDenoiser learned) return (Denoise(x, sigma), null);
        var (c, variance) = learned.DenoiseWithVariance(x, sigma);
        try
        {
            using (c)
            using (var u = _unconditional.Denoise(x, sigma))
                return (Combine(c, u, Scale), variance);
        }
        catch
        {
            variance?.Dispose();
            throw;
        }
    }

    /// <summary>u + s·(c - u) = s·c + (1 - s)·u.</summary>
    public static Tensor Combine(Tensor conditional, Tensor unconditional, double scale) =>
        SamplerCatalog.Combine(conditional, scale, unconditional, 1 - scale);
}
