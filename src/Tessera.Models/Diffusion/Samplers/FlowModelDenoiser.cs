using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>A rectified-flow network (SD3's SD3Transformer2DModel, FLUX) as a denoiser: x = (1 - σ)·x_0 + σ·ε is fed
/// unscaled at timestep σ·T, the network predicts the velocity v = ε - x_0, so D = x - σ·v̂.</summary>
/// <param name="model">The network.</param>
/// <param name="trainSteps">T: the timestep scale (1000 for SD3).</param>
public sealed class FlowModelDenoiser(DiffusionModel model, int trainSteps = 1000) : IDenoiser
{
    private readonly DiffusionModel _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <inheritdoc/>
    public NoisePath Path => NoisePath.RectifiedFlow;

    /// <inheritdoc/>
    public double SigmaMax => 1;

    /// <inheritdoc/>
    public Tensor Denoise(Tensor x, double sigma)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var v = _model(x, sigma * trainSteps);
        if (!v.Shape.Equals(x.Shape)) throw new TesseraException($"flow model: output {v.Shape} differs from its input {x.Shape}");
        return SamplerCatalog.Combine(x, 1, v, -sigma);
    }
}
