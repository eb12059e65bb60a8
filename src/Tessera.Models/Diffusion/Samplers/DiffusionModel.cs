namespace Tessera.Models.Diffusion.Samplers;

/// <summary>What a diffusion network predicts (diffusers' <c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary>The noise ε ("epsilon": DDPM, Stable Diffusion 1.x, DiT).</summary>
    Epsilon,

    /// <summary>v = α·ε - σ_vp·x_0 on the variance-preserving path ("v_prediction": Salimans and Ho 2022; SD 2.x 768).</summary>
    V,

    /// <summary>The clean sample x_0 ("sample").</summary>
    Sample,

    /// <summary>The flow velocity ε - x_0 of a rectified-flow model (SD3, FLUX).</summary>
    Flow,
}

/// <summary>A network call: the model's input sample (already scaled as it was trained) and its timestep, the same for
/// the whole batch; returns a new tensor of the input's shape the caller disposes.</summary>
public delegate Tensor DiffusionModel(Tensor input, double timestep);
