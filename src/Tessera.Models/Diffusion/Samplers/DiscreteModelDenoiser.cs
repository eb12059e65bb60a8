using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>A discrete-time (DDPM-family) network seen as a variance-exploding denoiser, as k-diffusion's
/// DiscreteEpsDDPMDenoiser and DiscreteVDDPMDenoiser do: the VE sample x = x_vp/√ᾱ is fed as x·c_in with
/// c_in = 1/√(σ² + 1) (that is x_vp), at the fractional timestep whose σ it is; then
/// ε-prediction: D = x - σ·ε̂; v-prediction: D = x/(σ² + 1) - σ/√(σ² + 1)·v̂; sample prediction: D = x̂_0.</summary>
public sealed class DiscreteModelDenoiser : IDenoiser
{
    private readonly DiffusionModel _model;

    /// <summary>Wraps <paramref name="model"/>, trained on <paramref name="schedule"/> to predict <paramref name="prediction"/>.
    /// <paramref name="timestepScale"/> multiplies the timestep handed to the network (1: t in [0, T-1]).</summary>
    public DiscreteModelDenoiser(DiffusionModel model, DiscreteNoiseSchedule schedule, PredictionType prediction, double timestepScale = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(schedule);
        if (prediction == PredictionType.Flow)
            throw new TesseraException("a discrete-time (DDPM) schedule cannot drive a flow-prediction model: use FlowModelDenoiser");
        _model = model;
        Schedule = schedule;
        Prediction = prediction;
        TimestepScale = timestepScale;
    }

    /// <summary>The training noise schedule.</summary>
    public DiscreteNoiseSchedule Schedule { get; }

    /// <summary>What the network predicts.</summary>
    public PredictionType Prediction { get; }

    /// <summary>Factor on the timestep the network sees.</summary>
    public double TimestepScale { get; }

    /// <inheritdoc/>
    public NoisePath Path => NoisePath.VarianceExploding;

    /// <inheritdoc/>
    public double SigmaMax => Schedule.SigmaMax;

    /// <inheritdoc/>
    public Tensor Denoise(Tensor x, double sigma)
    {
        ArgumentNullException.ThrowIfNull(x);
        double cIn = 1 / Math.Sqrt(sigma * sigma + 1);
        using var input = x.Affine(cIn);
        using var output = _model(input, Schedule.TimestepOf(sigma) * TimestepScale);
        if (!output.Shape.Equals(x.Shape))
            throw new TesseraException($"diffusion model: output {output.Shape} differs from its input {x.Shape}");
        switch (Prediction)
        {
            case PredictionType.Epsilon:
                return SamplerCatalog.Combine(x, 1, output, -sigma);
            case PredictionType.V:
                return SamplerCatalog.Combine(x, 1 / (sigma * sigma + 1), output, -sigma * cIn);
            default:
                return output.Affine(1);
        }
    }
}
