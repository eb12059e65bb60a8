using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>A discrete-time (DDPM-family) network seen as a variance-exploding denoiser, as k-diffusion's
/// DiscreteEpsDDPMDenoiser and DiscreteVDDPMDenoiser do: the VE sample x = x_vp/√ᾱ is fed as x·c_in with
/// c_in = 1/√(σ² + 1) (that is x_vp), at the fractional timestep whose σ it is; then
/// ε-prediction: D = x - σ·ε̂; v-prediction: D = x/(σ² + 1) - σ/√(σ² + 1)·v̂; sample prediction: D = x̂_0.
/// A learned-sigma network (DiT's learn_sigma, improved DDPM) returns twice the input's channels: the prediction, then
/// the variance values that <see cref="DenoiseWithVariance"/> hands to DDPM's step.</summary>
public sealed class DiscreteModelDenoiser : ILearnedVarianceDenoiser
{
    private readonly DiffusionModel _model;

    /// <summary>Wraps <paramref name="model"/>, trained on <paramref name="schedule"/> to predict <paramref name="prediction"/>.
    /// <paramref name="timestepScale"/> multiplies the timestep handed to the network (1: t in [0, T-1]).
    /// <paramref name="learnedSigma"/>: the network's output has 2 x the input's channels (axis 1), the second half being
    /// the learned-range variance values.</summary>
    public DiscreteModelDenoiser(DiffusionModel model, DiscreteNoiseSchedule schedule, PredictionType prediction, double timestepScale = 1,
        bool learnedSigma = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(schedule);
        if (prediction == PredictionType.Flow)
            throw new TesseraException("a discrete-time (DDPM) schedule cannot drive a flow-prediction model: use FlowModelDenoiser");
        _model = model;
        Schedule = schedule;
        Prediction = prediction;
        TimestepScale = timestepScale;
        LearnedSigma = learnedSigma;
    }

    /// <summary>The training noise schedule.</summary>
    public DiscreteNoiseSchedule Schedule { get; }

    /// <summary>What the network predicts.</summary>
    public PredictionType Prediction { get; }

    /// <summary>Factor on the timestep the network sees.</summary>
    public double TimestepScale { get; }

    /// <summary>Whether the network's output carries the learned variance as its second half of channels.</summary>
    public bool LearnedSigma { get; }

    /// <inheritdoc/>
    public NoisePath Path => NoisePath.VarianceExploding;

    /// <inheritdoc/>
    public double SigmaMax => Schedule.SigmaMax;

    /// <inheritdoc/>
    public Tensor Denoise(Tensor x, double sigma)
    {
        var (denoised, variance) = DenoiseWithVariance(x, sigma);
        variance?.Dispose();
        return denoised;
    }

    /// <inheritdoc/>
    public (Tensor Denoised, Tensor? VarianceValues) DenoiseWithVariance(Tensor x, double sigma)
    {
        ArgumentNullException.ThrowIfNull(x);
        double cIn = 1 / Math.Sqrt(sigma * sigma + 1);
        using var input = x.Affine(cIn);
        using var output = _model(input, Schedule.TimestepOf(sigma) * TimestepScale);
        if (!LearnedSigma)
        {
            if (!output.Shape.Equals(x.Shape))
                throw new TesseraException($"diffusion model: output {output.Shape} differs from its input {x.Shape}");
            return (FromPrediction(x, output, sigma, cIn), null);
        }
        int c = x.Rank >= 2 ? x.Dim(1) : 0;
        if (c == 0 || output.Rank != x.Rank || output.Dim(1) != 2 * c || !SameExceptAxis1(output.Shape, x.Shape))
            throw new TesseraException($"diffusion model with learned sigma: output {output.Shape} should be the input {x.Shape} with twice its channels (axis 1)");
        Tensor? values = null;
        try
        {
            using (var half = output.Narrow(1, c, c)) values = half.Contiguous();
            using var predictionView = output.Narrow(1, 0, c);
            using var prediction = predictionView.Contiguous();
            return (FromPrediction(x, prediction, sigma, cIn), values);
        }
        catch
        {
            values?.Dispose();
            throw;
        }
    }

    private Tensor FromPrediction(Tensor x, Tensor output, double sigma, double cIn) => Prediction switch
    {
        PredictionType.Epsilon => SamplerCatalog.Combine(x, 1, output, -sigma),
        PredictionType.V => SamplerCatalog.Combine(x, 1 / (sigma * sigma + 1), output, -sigma * cIn),
        _ => output.Affine(1),
    };

    private static bool SameExceptAxis1(Shape a, Shape b)
    {
        for (int i = 0; i < a.Rank; i++)
            if (i != 1 && a[i] != b[i]) return false;
        return true;
    }
}
