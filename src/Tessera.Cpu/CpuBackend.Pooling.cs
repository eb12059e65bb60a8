namespace Tessera.Cpu;

// 2-D average and max pooling over NCHW, in f32. Planes (one batch item, one channel) are split over threads;
// within a plane each output pixel reduces its window clipped to the image. The clipped window is exactly what
// padding means here: a max ignores padded taps and an average divides by the clipped count unless
// CountIncludePad asks for the full window. A global average (window = image) is one sum per plane.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Pool2d(PoolOp op, Tensor x, Pool2dParams p, Tensor dst)
    {
        Check(x.Rank == 4 && dst.Rank == 4 && x.DType.IsFloat() && dst.DType.IsFloat(),
            $"pool2d: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float NCHW tensors");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = dst.Shape[2], ow = dst.Shape[3];
        Check(dst.Shape[0] == b && dst.Shape[1] == c
              && oh == Conv2dParams.OutputSize(h, p.KernelH, p.StrideH, p.PadH, 1)
              && ow == Conv2dParams.OutputSize(w, p.KernelW, p.StrideW, p.PadW, 1),
            $"pool2d: x {x.Shape} with {p} does not give dst {dst.Shape}");
        if (dst.ElementCount == 0) return;
        ViaF32(dst, d32 =>
        {
            using var xc = AsF32(x);
            float* xp = Ptr<float>(xc), dp = Ptr<float>(d32);
            long planes = (long)b * c, plane = (long)h * w;
            CpuParallel.For(planes, Threads, Math.Max(1, 16384 / Math.Max(plane, 1)), (p0, p1) =>
            {
                for (long q = p0; q < p1; q++)
                    PoolPlane(op, xp + q * plane, h, w, p, dp + q * oh * ow, oh, ow);
            });
        });
    }

    private static void PoolPlane(PoolOp op, float* src, int h, int w, Pool2dParams p, float* dst, int oh, int ow)
    {
        for (int oy = 0; oy < oh; oy++)
        {
            int y0 = oy * p.StrideH - p.PadH, y1 = Math.Min(y0 + p.KernelH, h);
            y0 = Math.Max(y0, 0);
            for (int ox = 0; ox < ow; ox++)
            {
                int x0 = ox * p.StrideW - p.PadW, x1 = Math.Min(x0 + p.KernelW, w);
                x0 = Math.Max(x0, 0);
                int n = x1 - x0;
                float r;
                if (op == PoolOp.Max)
                {
                    r = float.NegativeInfinity;
                    for (int y = y0; y < y1; y++)
                    {
                        float* row = src + (long)y * w + x0;
                        for (int i = 0; i < n; i++) r = MathF.Max(r, row[i]); // MathF.Max propagates NaN
                    }
                }
                else
                {
                    double s = 0; // a global window sums thousands of values; double keeps the mean exact to f32
                    for (int y = y0; y < y1; y++)
                    {
                        float* row = src + (long)y * w + x0;
                        // A few taps (PP-OCR's 3x2 pool): a plain loop, the vector sum's call costs more than the adds.
                        if (n <= 8) for (int i = 0; i < n; i++) s += row[i];
                        else s += System.Numerics.Tensors.TensorPrimitives.Sum(new ReadOnlySpan<float>(row, n));
                    }
                    int count = p.CountIncludePad ? p.KernelH * p.KernelW : (y1 - y0) * n;
                    r = (float)(s / count);
                }
                dst[(long)oy * ow + ox] = r;
            }
        }
    }
}
