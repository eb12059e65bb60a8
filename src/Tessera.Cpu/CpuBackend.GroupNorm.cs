using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// GroupNorm over x [B, C, *spatial]: x is read as contiguous f32 (a copy only when it is another dtype or a strided
// view), so each (batch, group) is one contiguous run of (C/groups) x spatial values. Its statistics are summed in
// double (Kernels/RowStats, the LayerNorm kernels), then each channel is normalised with its own weight and bias.
// The (batch, group) units are split over threads.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, Tensor dst)
    {
        Check(x.Rank >= 2 && x.DType.IsFloat() && dst.DType.IsFloat() && dst.IsContiguous && x.Shape.Equals(dst.Shape),
            $"group_norm: x {x.DType.Name()} {x.Shape} [B, C, ...] and dst {dst.DType.Name()} {dst.Shape} must be float tensors of one shape, dst contiguous");
        int b = x.Shape[0], c = x.Shape[1];
        Check(groups > 0 && c % groups == 0, $"group_norm: {c} channels of x {x.Shape} do not split into {groups} groups");
        foreach (var v in new[] { weight, bias })
            Check(v is null || (v.Rank == 1 && v.Shape[0] == c && v.DType.IsFloat()),
                $"group_norm: weight/bias {v?.DType.Name()} {v?.Shape} must be a float vector [{c}]");
        if (x.ElementCount == 0) return;
        int spatial = checked((int)(x.ElementCount / ((long)b * c)));
        int perGroup = c / groups;
        int run = checked(perGroup * spatial);
        using var x32 = AsF32(x);
        using var w = weight is null ? null : AsF32(weight);
        using var bs = bias is null ? null : AsF32(bias);
        float* px = Ptr<float>(x32), pw = w is null ? null : Ptr<float>(w), pb = bs is null ? null : Ptr<float>(bs);
        byte* db = Ptr(dst);
        DType dt = dst.DType;
        int des = ElementSize(dt);
        bool direct = dt == DType.F32;
        CpuParallel.For((long)b * groups, Threads, Math.Max(1, 16384 / run), (u0, u1) =>
        {
            using var scratch = new Scratch(direct ? 1 : run);
            for (long u = u0; u < u1; u++)
            {
                float* src = px + u * run;
                float* d = direct ? (float*)db + u * run : scratch.P;
                double mean = RowStats.Sum(src, run) / run;
                float m1 = (float)mean, m2 = (float)(mean - m1);
                double var = RowStats.SumSquares(src, run, m1, m2) / run;
                float rstd = (float)(1.0 / Math.Sqrt(var + eps));
                int c0 = (int)(u % groups) * perGroup;
                for (int ch = 0; ch < perGroup; ch++)
                {
                    float* xs = src + (long)ch * spatial, ds = d + (long)ch * spatial;
                    RowStats.Normalize(xs, ds, spatial, m1, m2, pw is null ? rstd : rstd * pw[c0 + ch], null, null);
                    if (pb is not null && pb[c0 + ch] != 0f) VectorMath.Affine(ds, ds, spatial, 1f, pb[c0 + ch]);
                }
                if (!direct) RowIo.Store(d, db + u * run * des, dt, 1, run);
            }
        });
    }
}
