using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Kernels;

/// <summary>Row statistics in double precision (f32 loads widened to f64 lanes): the sums behind LayerNorm,
/// RMSNorm and Sum/Mean stay exact enough for long rows and large offsets (a mean of 1e4 with unit
/// spread loses nothing), at a cost that disappears behind the memory traffic of these ops.</summary>
internal static unsafe class RowStats
{
    /// <summary>Sum of x[0..n) in double.</summary>
    public static double Sum(float* x, int n)
    {
        int i = 0;
        double s = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<double> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(x + i));
                a0 += lo; a1 += hi;
            }
            s = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<double> a0 = default, a1 = default;
            for (; i <= n - 8; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(x + i));
                a0 += lo; a1 += hi;
            }
            s = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>Sum over i of ((x[i] - shift) - shift2)^2 in double. The shift is split into an f32 part,
    /// subtracted exactly in f32 when x is near it, and a small f32 correction, so a double mean can be
    /// removed without widening before the subtraction.</summary>
    public static double SumSquares(float* x, int n, float shift, float shift2)
    {
        int i = 0;
        double s = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<double> a0 = default, a1 = default;
            var m1 = Vector512.Create(shift); var m2 = Vector512.Create(shift2);
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(x + i) - m1 - m2);
                a0 = Vector512.FusedMultiplyAdd(lo, lo, a0);
                a1 = Vector512.FusedMultiplyAdd(hi, hi, a1);
            }
            s = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<double> a0 = default, a1 = default;
            var m1 = Vector256.Create(shift); var m2 = Vector256.Create(shift2);
            for (; i <= n - 8; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(x + i) - m1 - m2);
                a0 = Vector256.FusedMultiplyAdd(lo, lo, a0);
                a1 = Vector256.FusedMultiplyAdd(hi, hi, a1);
            }
            s = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) { double d = x[i] - shift - shift2; s += d * d; }
        return s;
    }

    /// <summary>d[i] = ((x[i] - shift) - shift2) * scale * w[i] + b[i]; w and b may be null (1 and 0).</summary>
    public static void Normalize(float* x, float* d, int n, float shift, float shift2, float scale, float* w, float* b)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) Normalize<Vector512<float>, V512>(x, d, n, shift, shift2, scale, w, b, ref i);
        else if (Vector256.IsHardwareAccelerated) Normalize<Vector256<float>, V256>(x, d, n, shift, shift2, scale, w, b, ref i);
        Normalize<float, V1>(x, d, n, shift, shift2, scale, w, b, ref i);
    }

    private static void Normalize<TV, S>(float* x, float* d, int n, float shift, float shift2, float scale, float* w, float* b, ref int i)
        where TV : struct where S : ISimd<TV>
    {
        TV m1 = S.Splat(shift), m2 = S.Splat(shift2), sc = S.Splat(scale);
        int c = S.Count;
        if (w is not null && b is not null)
            for (; i <= n - c; i += c) S.Store(S.Fma(S.Mul(S.Sub(S.Sub(S.Load(x + i), m1), m2), sc), S.Load(w + i), S.Load(b + i)), d + i);
        else if (w is not null)
            for (; i <= n - c; i += c) S.Store(S.Mul(S.Mul(S.Sub(S.Sub(S.Load(x + i), m1), m2), sc), S.Load(w + i)), d + i);
        else if (b is not null)
            for (; i <= n - c; i += c) S.Store(S.Fma(S.Sub(S.Sub(S.Load(x + i), m1), m2), sc, S.Load(b + i)), d + i);
        else
            for (; i <= n - c; i += c) S.Store(S.Mul(S.Sub(S.Sub(S.Load(x + i), m1), m2), sc), d + i);
    }
}
