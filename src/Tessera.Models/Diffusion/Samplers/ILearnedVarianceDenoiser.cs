namespace Tessera.Models.Diffusion.Samplers;

/// <summary>A denoiser whose network also predicts the variance of the reverse step, as improved DDPM's "learned range"
/// (Nichol and Dhariwal 2021, eq. 15; DiT's learn_sigma, whose second half of output channels it is): per element a value
/// v, nominally in [-1, 1], that puts the log-variance of a DDPM step between the posterior's β̃ (v = -1) and the forward
/// step's β (v = 1). Only DDPM's ancestral step uses it (<see cref="DdpmSampler"/>); DDIM and the ODE samplers take
/// <see cref="IDenoiser.Denoise"/> alone, as the DiT repository does.</summary>
public interface ILearnedVarianceDenoiser : IDenoiser
{
    /// <summary>D(x; σ) and the variance values v, both of x's shape, from one network call; the caller disposes both.
    /// The values are null when this instance's network predicts no variance (a DDPM step then uses the fixed one).</summary>
    (Tensor Denoised, Tensor? VarianceValues) DenoiseWithVariance(Tensor x, double sigma);
}
