using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>RMSNorm over the last axis (LLaMA): x / sqrt(mean(x^2) + eps) * weight. Gemma-style checkpoints store
/// weight - 1 and multiply by (1 + weight); <see cref="Load"/> folds the 1 in once (in f32) when asked.</summary>
/// <param name="Weight">Scale [dim] (already including Gemma's 1), or null.</param>
/// <param name="Eps">Added to the mean square.</param>
public sealed record RmsNorm(Tensor? Weight, float Eps = 1e-6f) : INorm
{
    /// <summary>Loads "weight" [dim]; with <paramref name="addOne"/> the layer scales by 1 + weight (Gemma).</summary>
    public static RmsNorm Load(WeightBuilder wb, int dim, float eps = 1e-6f, bool addOne = false, string weightName = "weight")
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (!addOne) return new RmsNorm(wb.GetAs(weightName, DType.F32, dim), eps);
        var w = wb.GetHost(weightName, dim);
        for (int i = 0; i < w.Length; i++) w[i] += 1f;
        return new RmsNorm(wb.Upload(w, dim), eps);
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => x.RmsNorm(Weight, Eps);
}
