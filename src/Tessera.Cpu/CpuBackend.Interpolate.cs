using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Bicubic resampling with PyTorch's upsample_bicubic2d semantics (aten/src/ATen/native/UpSample.h):
// Keys' cubic with A = -0.75; source coordinate scale * dst (align_corners) or
// scale * (dst + 0.5) - 0.5 with scale = in / out, not clamped at 0 for cubic; index = min(floor(src), in - 1),
// t = clamp(src - index, 0, 1); the four taps index - 1 .. index + 2 clamped to [0, in - 1]. Coordinates and
// weights are computed in f32 as PyTorch does, so the taps match it exactly. Each plane is interpolated
// along x for every input row first, then along y as vector sums of whole rows.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst)
    {
        Check(x.Rank == 4 && dst.Rank == 4 && x.Shape[0] == dst.Shape[0] && x.Shape[1] == dst.Shape[1] && x.DType.IsFloat() && dst.DType.IsFloat(),
            $"interpolate_bicubic: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float [B, C, H, W] with equal B and C");
        int h = x.Shape[2], w = x.Shape[3], oh = dst.Shape[2], ow = dst.Shape[3];
        if (dst.ElementCount == 0) return;
        Check(h > 0 && w > 0, $"interpolate_bicubic: empty input {x.Shape}");
        var yi = new int[oh * 4]; var yw = new float[oh * 4];
        var xi = new int[ow * 4]; var xw = new float[ow * 4];
        CubicTaps(h, oh, alignCorners, yi, yw);
        CubicTaps(w, ow, alignCorners, xi, xw);
        ViaF32(dst, d32 =>
        {
            using var xc = AsF32(x);
            float* src = Ptr<float>(xc), dp = Ptr<float>(d32);
            long planes = (long)x.Shape[0] * x.Shape[1];
            CpuParallel.For(planes, Threads, Math.Max(1, 16384 / ((long)oh * ow)), (p0, p1) =>
            {
                using var rows = new Scratch((long)h * ow);
                for (long p = p0; p < p1; p++)
                {
                    float* s = src + p * h * w, d = dp + p * oh * ow, hx = rows.P;
                    for (int y = 0; y < h; y++)
                        for (int o = 0; o < ow; o++)
                        {
                            float* r = s + (long)y * w;
                            int k = 4 * o;
                            hx[(long)y * ow + o] = r[xi[k]] * xw[k] + r[xi[k + 1]] * xw[k + 1] + r[xi[k + 2]] * xw[k + 2] + r[xi[k + 3]] * xw[k + 3];
                        }
                    for (int o = 0; o < oh; o++)
                    {
                        var row = new Span<float>(d + (long)o * ow, ow);
                        int k = 4 * o;
                        System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(hx + (long)yi[k] * ow, ow), yw[k], row);
                        for (int t = 1; t < 4; t++)
                            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(hx + (long)yi[k + t] * ow, ow), yw[k + t], row, row);
                    }
                }
            });
        });
    }

    /// <summary>PyTorch's four cubic taps (clamped indices and weights) for each output position along one axis.</summary>
    internal static void CubicTaps(int inSize, int outSize, bool alignCorners, int[] index, float[] weight)
    {
        const float a = -0.75f;
        float scale = alignCorners
            ? (outSize > 1 ? (float)(inSize - 1) / (outSize - 1) : 0f)
            : (float)inSize / outSize;
        for (int i = 0; i < outSize; i++)
        {
            float real = alignCorners ? scale * i : scale * (i + 0.5f) - 0.5f;
            int i0 = Math.Min((int)MathF.Floor(real), inSize - 1);
            float t = Math.Min(Math.Max(real - i0, 0f), 1f);
            weight[4 * i] = Cubic2(t + 1f, a);
            weight[4 * i + 1] = Cubic1(t, a);
            weight[4 * i + 2] = Cubic1(1f - t, a);
            weight[4 * i + 3] = Cubic2((1f - t) + 1f, a); // as PyTorch: x2 = 1 - t, then x2 + 1
            for (int k = 0; k < 4; k++) index[4 * i + k] = Math.Clamp(i0 - 1 + k, 0, inSize - 1);
        }

        // Keys' kernel for |x| <= 1 and for 1 < |x| < 2.
        static float Cubic1(float x, float a) => ((a + 2) * x - (a + 3)) * x * x + 1;
        static float Cubic2(float x, float a) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }
}
