using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// LayerNorm and RMSNorm over the last axis, one row at a time: statistics in double (Kernels/RowStats),
// the normalisation in f32 vectors. Weight and bias come as f32 or as x's dtype and are converted once.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst) =>
        NormRows("layer_norm", x, weight, bias, dst, (px, d, n, w, b) =>
        {
            double mean = RowStats.Sum(px, n) / n;
            float m1 = (float)mean, m2 = (float)(mean - m1);
            double var = RowStats.SumSquares(px, n, m1, m2) / n;
            RowStats.Normalize(px, d, n, m1, m2, (float)(1.0 / Math.Sqrt(var + eps)), w, b);
        });

    /// <inheritdoc/>
    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst) =>
        NormRows("rms_norm", x, weight, null, dst, (px, d, n, w, _) =>
        {
            double ms = RowStats.SumSquares(px, n, 0, 0) / n;
            RowStats.Normalize(px, d, n, 0, 0, (float)(1.0 / Math.Sqrt(ms + eps)), w, null);
        });

    private static void CheckNormVector(string op, Tensor? v, int n) =>
        Check(v is null || (v.Rank == 1 && v.Shape[0] == n && v.DType.IsFloat()),
            $"{op}: weight/bias {v?.DType.Name()} {v?.Shape} must be a float vector [{n}]");

    private delegate void NormKernel(float* x, float* d, int n, float* w, float* b);

    private void NormRows(string op, Tensor x, Tensor? weight, Tensor? bias, Tensor dst, NormKernel kernel)
    {
        Check(x.Shape.Equals(dst.Shape) && x.Rank >= 1 && x.DType.IsFloat() && dst.DType.IsFloat(),
            $"{op}: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float tensors of one shape");
        if (x.ElementCount == 0) return;
        int n = x.Shape[-1];
        CheckNormVector(op, weight, n);
        CheckNormVector(op, bias, n);
        using var w = weight is null ? null : AsF32(weight);
        using var b = bias is null ? null : AsF32(bias);
        float* pw = w is null ? null : Ptr<float>(w), pb = b is null ? null : Ptr<float>(b);
        MapRows(x, dst, (_, px, d, len) => kernel(px, d, len, pw, pb));
    }
}
