using System.Runtime.Intrinsics;

namespace Tessera.Imaging;

/// <summary><see cref="BilateralFilter"/>'s inner loops for 16 output pixels at once with 512-bit vectors, on gray and
/// 3-channel images (the 256-bit ones, for 8 pixels and any channel count, are in BilateralFilter.cs).</summary>
internal static class BilateralKernels512
{
    public static unsafe void Rgb16(float[][] planes, int at, int[] off, float[] spaceLog, float colorCoeff, byte[] dst, int dstAt)
    {
        fixed (float* p0 = planes[0], p1 = planes[1], p2 = planes[2])
        {
            var c0 = Vector512.Load(p0 + at); var c1 = Vector512.Load(p1 + at); var c2 = Vector512.Load(p2 + at);
            Vector512<float> s0 = default, s1 = default, s2 = default, wsum = default;
            var cc = Vector512.Create(colorCoeff);
            for (int t = 0; t < off.Length; t++)
            {
                int p = at + off[t];
                var v0 = Vector512.Load(p0 + p); var v1 = Vector512.Load(p1 + p); var v2 = Vector512.Load(p2 + p);
                var dist = Vector512.Abs(v0 - c0) + Vector512.Abs(v1 - c1) + Vector512.Abs(v2 - c2);
                var wt = FastExp(dist * dist * cc + Vector512.Create(spaceLog[t]));
                wsum += wt;
                s0 += v0 * wt; s1 += v1 * wt; s2 += v2 * wt;
            }
            var inv = Vector512<float>.One / wsum;
            Store(s0 * inv, dst, dstAt, 3);
            Store(s1 * inv, dst, dstAt + 1, 3);
            Store(s2 * inv, dst, dstAt + 2, 3);
        }
    }

    public static unsafe void Gray16(float[] plane, int at, int[] off, float[] spaceLog, float colorCoeff, byte[] dst, int dstAt)
    {
        fixed (float* p0 = plane)
        {
            var c0 = Vector512.Load(p0 + at);
            Vector512<float> s0 = default, wsum = default;
            var cc = Vector512.Create(colorCoeff);
            for (int t = 0; t < off.Length; t++)
            {
                var v0 = Vector512.Load(p0 + at + off[t]);
                var d = v0 - c0;
                var wt = FastExp(d * d * cc + Vector512.Create(spaceLog[t]));
                wsum += wt;
                s0 += v0 * wt;
            }
            Store(s0 * (Vector512<float>.One / wsum), dst, dstAt, 1);
        }
    }

    private static void Store(Vector512<float> v, byte[] dst, int at, int stride)
    {
        // Round half to even (as cvRound), then saturate.
        var q = Vector512.Min(Vector512.Max(Vector512.Round(v), Vector512<float>.Zero), Vector512.Create(255f));
        for (int i = 0; i < 16; i++) dst[at + i * stride] = (byte)q[i];
    }

    /// <summary>BilateralFilter.FastExp with 16 lanes.</summary>
    private static Vector512<float> FastExp(Vector512<float> x)
    {
        var t = Vector512.Max(x, Vector512.Create(-87f)) * Vector512.Create(1.44269504f);
        var n = Vector512.Round(t);
        var f = t - n;
        var p = Vector512.Create(1.33335581e-3f);
        p = p * f + Vector512.Create(9.61812911e-3f);
        p = p * f + Vector512.Create(5.55041087e-2f);
        p = p * f + Vector512.Create(2.40226507e-1f);
        p = p * f + Vector512.Create(6.93147182e-1f);
        p = p * f + Vector512<float>.One;
        var scale = (Vector512.ConvertToInt32Native(n) + Vector512.Create(127)) << 23;
        return p * scale.AsSingle();
    }
}
