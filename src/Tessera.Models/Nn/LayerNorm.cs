using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>LayerNorm over the last axis (PyTorch's nn.LayerNorm): (x - mean) / sqrt(var + eps) * weight + bias, with
/// weight and bias absent when elementwise_affine is false. Weight and bias are kept in f32.</summary>
/// <param name="Weight">Scale [dim], or null.</param>
/// <param name="Bias">Shift [dim], or null.</param>
/// <param name="Eps">Added to the variance.</param>
public sealed record LayerNorm(Tensor? Weight, Tensor? Bias, float Eps = 1e-5f) : INorm
{
    /// <summary>Loads "weight" and (when <paramref name="bias"/>) "bias", both [dim], unless
    /// <paramref name="affine"/> is false (then nothing is loaded).</summary>
    public static LayerNorm Load(WeightBuilder wb, int dim, float eps = 1e-5f, bool affine = true, bool bias = true) =>
        Load(wb, dim, eps, affine, bias, "weight", "bias");

    /// <summary>Loads a LayerNorm whose tensors have other leaf names (PaddlePaddle's "w_0", "b_0").</summary>
    public static LayerNorm Load(WeightBuilder wb, int dim, float eps, bool affine, bool bias, string weightName, string biasName)
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (!affine) return new LayerNorm(null, null, eps);
        return new LayerNorm(wb.GetAs(weightName, DType.F32, dim), bias ? wb.GetAs(biasName, DType.F32, dim) : null, eps);
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => x.LayerNorm(Weight, Bias, Eps);
}
