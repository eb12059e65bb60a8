using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>The one thing a sampler asks of a model (Karras et al.'s D(x; σ)): the estimate of the clean data x_0 behind
/// a noisy sample x at noise level σ, with x = α(σ)·x_0 + σ·ε on <see cref="Path"/>.</summary>
public interface IDenoiser
{
    /// <summary>How the model's noisy samples are formed.</summary>
    NoisePath Path { get; }

    /// <summary>The largest σ the model was trained on (a sampler starts there or below).</summary>
    double SigmaMax { get; }

    /// <summary>D(x; σ): a new tensor of x's shape the caller disposes. σ is at most <see cref="SigmaMax"/> and above 0.</summary>
    Tensor Denoise(Tensor x, double sigma);
}
