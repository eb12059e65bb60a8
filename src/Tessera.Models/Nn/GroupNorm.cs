using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>GroupNorm (PyTorch's nn.GroupNorm) of x [B, C, *spatial]: C channels in <paramref name="Groups"/> groups,
/// each normalised by its mean and biased variance, then per-channel weight and bias (kept in f32; absent when not
/// affine). The VAE's and the UNet's norm.</summary>
/// <param name="Groups">Channel groups (C must divide by it).</param>
/// <param name="Weight">Scale [C], or null.</param>
/// <param name="Bias">Shift [C], or null.</param>
/// <param name="Eps">Added to the variance.</param>
public sealed record GroupNorm(int Groups, Tensor? Weight, Tensor? Bias, float Eps = 1e-5f)
{
    /// <summary>Loads "weight" and "bias" [channels] unless <paramref name="affine"/> is false.</summary>
    public static GroupNorm Load(WeightBuilder wb, int groups, int channels, float eps = 1e-5f, bool affine = true)
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (groups <= 0 || channels % groups != 0)
            throw new TesseraException($"group norm {wb.FullName("")}: {channels} channels do not split into {groups} groups");
        if (!affine) return new GroupNorm(groups, null, null, eps);
        return new GroupNorm(groups, wb.GetAs("weight", DType.F32, channels), wb.GetAs("bias", DType.F32, channels), eps);
    }

    /// <summary>Normalises x [B, C, *spatial]; returns a new tensor.</summary>
    public Tensor Forward(Tensor x) => x.GroupNorm(Groups, Weight, Bias, Eps);
}
