using Tessera.Cpu.Conv;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>The direct convolution kernel (src/Tessera.Cpu/Conv/DirectConv.cs) called on its own against the naive
/// conv in double: 3x3 at strides 1 and 2 with padding 1 (the detector's convs), widths that leave partial 48- and
/// 16-pixel tiles, output channels that leave a partial block of 8, other kernels, paddings, dilations and strides,
/// with and without bias, batch above 1. Normalised MSE under 1e-7 (ARCHITECTURE.md).</summary>
public class DirectConvTests
{
    public static IEnumerable<object[]> Shapes() => new[]
    {
        //            b  c  h   w   o  kh kw sH sW pH pW dH dW bias
        new object[] { 1, 3, 9, 37, 16, 3, 3, 1, 1, 1, 1, 1, 1, true },
        new object[] { 1, 5, 7, 53, 11, 3, 3, 1, 1, 1, 1, 1, 1, false },
        new object[] { 2, 4, 8, 100, 24, 3, 3, 1, 1, 1, 1, 1, 1, true },
        new object[] { 1, 3, 10, 66, 16, 3, 3, 2, 2, 1, 1, 1, 1, true },
        new object[] { 1, 6, 9, 31, 9, 3, 3, 2, 2, 1, 1, 1, 1, false },
        new object[] { 1, 3, 11, 29, 7, 5, 5, 1, 1, 2, 2, 1, 1, true },
        new object[] { 1, 2, 12, 40, 8, 3, 2, 3, 2, 0, 1, 2, 1, true },
        new object[] { 1, 4, 7, 19, 10, 3, 3, 1, 1, 0, 0, 1, 2, true },
        new object[] { 1, 2, 5, 5, 3, 3, 3, 1, 1, 2, 2, 1, 1, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void Matches_the_naive_convolution(int b, int c, int h, int w, int o, int kh, int kw, int sH, int sW, int pH, int pW, int dH, int dW, bool withBias)
    {
        if (!DirectConv.Supported) return;   // no AVX-512: the kernel is never called (the im2col route runs)
        var p = new Conv2dParams(sH, sW, pH, pW, dH, dW);
        int oh = Conv2dParams.OutputSize(h, kh, sH, pH, dH), ow = Conv2dParams.OutputSize(w, kw, sW, pW, dW);
        var rng = new Random(b * 1000 + c * 100 + w);
        float[] Draw(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] x = Draw(b * c * h * w), wt = Draw(o * c * kh * kw), bias = Draw(o);
        var dst = new float[b * o * oh * ow];
        Array.Fill(dst, float.NaN);
        foreach (int threads in new[] { 1, 2 })
        {
            fixed (float* xp = x, wp = wt, bp = bias, dp = dst)
                DirectConv.Run(xp, wp, withBias ? bp : null, dp, b, c, h, w, o, kh, kw, oh, ow, p, threads);
            var want = NaiveImageOps.Conv2d(new Nd([b, c, h, w], [.. x.Select(v => (double)v)]), new Nd([o, c, kh, kw], [.. wt.Select(v => (double)v)]),
                withBias ? new Nd([o], [.. bias.Select(v => (double)v)]) : null, p);
            Nmse.Below(want.Data, dst, Nmse.F32Bound, $"{threads} threads, x [{b}, {c}, {h}, {w}], w [{o}, {c}, {kh}, {kw}], {p}");
        }
    }
}
