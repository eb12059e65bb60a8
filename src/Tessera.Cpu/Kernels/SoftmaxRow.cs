using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Kernels;

/// <summary>Softmax of one f32 row in three passes instead of six: (1) t = x * scale + mask into the output and its
/// maximum, (2) e = exp(t - max) in place with the running sum, (3) e * (1 / sum). The exp is
/// <see cref="VectorMath.Exp{TV,S}"/>; rows stay in L1/L2 between passes for the widths models use.</summary>
internal static unsafe class SoftmaxRow
{
    /// <summary>d = softmax(x * scale + mask) over n values; mask may be null (none) and maskStride 0 (one value for
    /// the row). A row whose every logit is -inf becomes zeros; NaN gives NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* x, float* mask, int maskStride, float scale, float* d, int n)
    {
        if (Vector512.IsHardwareAccelerated) Run<Vector512<float>, V512>(x, mask, maskStride, scale, d, n);
        else if (Vector256.IsHardwareAccelerated) Run<Vector256<float>, V256>(x, mask, maskStride, scale, d, n);
        else Run<float, V1>(x, mask, maskStride, scale, d, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<TV, S>(float* x, float* mask, int maskStride, float scale, float* d, int n)
        where TV : struct where S : ISimd<TV>
    {
        int c = S.Count, i = 0;
        TV sc = S.Splat(scale);
        float m0 = mask is null ? 0f : *mask;
        TV mx = S.Splat(float.NegativeInfinity);
        float max = float.NegativeInfinity;
        if (mask is null || maskStride == 0)
        {
            TV add = S.Splat(m0);
            for (; i <= n - c; i += c) { TV t = S.Fma(S.Load(x + i), sc, add); S.Store(t, d + i); mx = S.Max(mx, t); }
            for (; i < n; i++) { d[i] = MathF.FusedMultiplyAdd(x[i], scale, m0); max = MathF.Max(max, d[i]); }
        }
        else
        {
            for (; i <= n - c; i += c) { TV t = S.Fma(S.Load(x + i), sc, S.Load(mask + i)); S.Store(t, d + i); mx = S.Max(mx, t); }
            for (; i < n; i++) { d[i] = MathF.FusedMultiplyAdd(x[i], scale, mask[i]); max = MathF.Max(max, d[i]); }
        }
        max = MathF.Max(max, HorizontalMax<TV, S>(mx));
        if (float.IsNegativeInfinity(max)) { new Span<float>(d, n).Clear(); return; }

        TV vmax = S.Splat(max), sum = S.Splat(0f);
        for (i = 0; i <= n - c; i += c)
        {
            TV e = VectorMath.Exp<TV, S>(S.Sub(S.Load(d + i), vmax));
            S.Store(e, d + i);
            sum = S.Add(sum, e);
        }
        float total = HorizontalSum<TV, S>(sum);
        for (; i < n; i++) { d[i] = VectorMath.Exp<float, V1>(d[i] - max); total += d[i]; }

        TV inv = S.Splat(1f / total);
        for (i = 0; i <= n - c; i += c) S.Store(S.Mul(S.Load(d + i), inv), d + i);
        for (; i < n; i++) d[i] *= 1f / total;
    }

    private static float HorizontalMax<TV, S>(TV v) where TV : struct where S : ISimd<TV>
    {
        float* lanes = stackalloc float[S.Count];
        S.Store(v, lanes);
        float m = lanes[0];
        for (int i = 1; i < S.Count; i++) m = MathF.Max(m, lanes[i]);
        return m;
    }

    private static float HorizontalSum<TV, S>(TV v) where TV : struct where S : ISimd<TV>
    {
        float* lanes = stackalloc float[S.Count];
        S.Store(v, lanes);
        float s = 0;
        for (int i = 0; i < S.Count; i++) s += lanes[i];
        return s;
    }
}
