using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>Direct checks of the CPU ops' tricky semantics (the naive-reference table test covers every op).</summary>
public class CpuOpsSmokeTests
{
    internal static readonly CpuBackend Cpu = new(new CpuBackendOptions(Threads: 2));

    internal static float[] Random(int n, int seed, float scale = 1f, float offset = 0f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = offset + scale * (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    private static void Near(double expected, double actual, double tol) =>
        Assert.True(Math.Abs(expected - actual) <= tol, $"expected {expected}, got {actual} (tolerance {tol})");

    internal static void Close(double[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    // PyTorch's upsample_bicubic2d written out in double, independently of the backend's code.
    private static double[] BicubicReference(float[] x, int planes, int h, int w, int oh, int ow, bool alignCorners)
    {
        static double Kernel(double s)
        {
            const double a = -0.75;
            s = Math.Abs(s);
            return s <= 1 ? ((a + 2) * s - (a + 3)) * s * s + 1 : s < 2 ? ((a * s - 5 * a) * s + 8 * a) * s - 4 * a : 0;
        }
        static (int[] Idx, double[] Wt) Taps(int inSize, int outSize, bool ac)
        {
            var idx = new int[outSize * 4]; var wt = new double[outSize * 4];
            for (int i = 0; i < outSize; i++)
            {
                double src = ac ? (outSize > 1 ? (double)(inSize - 1) / (outSize - 1) * i : 0) : (double)inSize / outSize * (i + 0.5) - 0.5;
                int i0 = Math.Min((int)Math.Floor(src), inSize - 1);
                double t = Math.Clamp(src - i0, 0, 1);
                for (int k = 0; k < 4; k++)
                {
                    idx[4 * i + k] = Math.Clamp(i0 - 1 + k, 0, inSize - 1);
                    wt[4 * i + k] = Kernel(t - (k - 1)); // tap k sits at distance t - (k - 1) from the sample
                }
            }
            return (idx, wt);
        }
        var (yi, yw) = Taps(h, oh, alignCorners);
        var (xi, xw) = Taps(w, ow, alignCorners);
        var y = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double s = 0;
                    for (int a = 0; a < 4; a++)
                        for (int b = 0; b < 4; b++)
                            s += yw[4 * oy + a] * xw[4 * ox + b] * x[(p * h + yi[4 * oy + a]) * w + xi[4 * ox + b]];
                    y[(p * oh + oy) * ow + ox] = s;
                }
        return y;
    }

    [Theory]
    [InlineData(3, 4, 5, 7, false)]
    [InlineData(3, 4, 5, 7, true)]
    [InlineData(7, 6, 4, 3, false)]
    [InlineData(7, 6, 4, 3, true)]
    [InlineData(4, 4, 1, 1, true)]
    public void BicubicMatchesPyTorchFormula(int h, int w, int oh, int ow, bool alignCorners)
    {
        var data = Random(2 * 3 * h * w, 1);
        using var x = Tensor.FromArray(Cpu, data, 2, 3, h, w);
        using var y = x.InterpolateBicubic(oh, ow, alignCorners);
        Close(BicubicReference(data, 6, h, w, oh, ow, alignCorners), y.ToArray<float>(), 2e-6);
    }

    [Fact]
    public void BicubicKnownValue()
    {
        // A ramp 0..3 upsampled 4 -> 8 (align_corners=false): out[0] sits at src -0.25, so t = 0.75 from index -1
        // with taps clamped to [0, 3]: weights (k(1.75), k(0.75), k(0.25), k(1.25)) on values (0, 0, 0, 1).
        using var x = Tensor.FromArray(Cpu, new float[] { 0, 1, 2, 3 }, 1, 1, 1, 4);
        using var y = x.InterpolateBicubic(1, 8);
        const double a = -0.75;
        double k125 = ((a * 1.25 - 5 * a) * 1.25 + 8 * a) * 1.25 - 4 * a; // cubic2(1.25)
        Assert.Equal(k125, y.ToArray<float>()[0], 6);
        Assert.Equal(-0.10546875, k125, 12);
    }

    [Fact]
    public void GatherOutOfRangeNamesIdPositionAndSizeAndWritesNothing()
    {
        using var table = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        using var ids = Tensor.FromArray(Cpu, new long[] { 0, 2, 1, 7 }, 2, 2);
        using var dst = Tensor.Full(Cpu, DType.F32, new Shape(2, 2, 2), 42);
        var e = Assert.Throws<TesseraException>(() => Cpu.Gather(table, ids, dst));
        Assert.Contains("7", e.Message);
        Assert.Contains("[1, 1]", e.Message);
        Assert.Contains("3 rows", e.Message);
        Assert.All(dst.ToArray<float>(), v => Assert.Equal(42f, v));
        using var neg = Tensor.FromArray(Cpu, new int[] { -1 }, 1);
        Assert.Throws<TesseraException>(() => table.Gather(neg));
    }

    [Fact]
    public void GatherCopiesRowsOfAnyDtype()
    {
        using var t32 = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        using var table = t32.To(DType.BF16);
        using var ids = Tensor.FromArray(Cpu, new int[] { 2, 0, 2 }, 3);
        using var g = table.Gather(ids);
        using var g32 = g.To(DType.F32);
        Assert.Equal(new float[] { 5, 6, 1, 2, 5, 6 }, g32.ToArray<float>());
    }

    [Fact]
    public void SoftmaxFullyMaskedRowIsZeroAndOthersNormalise()
    {
        var data = Random(3 * 5, 2, 4f);
        var mask = new float[3 * 5];
        for (int j = 0; j < 5; j++) mask[5 + j] = float.NegativeInfinity; // row 1 fully masked
        mask[2 * 5 + 4] = float.NegativeInfinity;                        // row 2 partly masked
        using var x = Tensor.FromArray(Cpu, data, 3, 5);
        using var m = Tensor.FromArray(Cpu, mask, 3, 5);
        using var y = x.Softmax(m, scale: 0.5f);
        var r = y.ToArray<float>();
        for (int j = 0; j < 5; j++) Assert.Equal(0f, r[5 + j]);
        Assert.Equal(0f, r[14]);
        for (int row = 0; row < 3; row += 2)
        {
            int len = row == 0 ? 5 : 4;
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < len; j++) max = Math.Max(max, 0.5 * data[row * 5 + j]);
            for (int j = 0; j < len; j++) sum += Math.Exp(0.5 * data[row * 5 + j] - max);
            for (int j = 0; j < len; j++) Near(Math.Exp(0.5 * data[row * 5 + j] - max) / sum, r[row * 5 + j], 1e-6);
        }
    }

    [Fact]
    public void SoftmaxWithBroadcastMaskRow()
    {
        var data = Random(2 * 3 * 4, 3);
        using var x = Tensor.FromArray(Cpu, data, 2, 3, 4);
        using var m = Tensor.FromArray(Cpu, new float[] { 0, float.NegativeInfinity, 0, 0 }, 4);
        using var y = x.Softmax(m);
        var r = y.ToArray<float>();
        for (int row = 0; row < 6; row++)
        {
            Assert.Equal(0f, r[row * 4 + 1]);
            Near(1.0, r[row * 4] + r[row * 4 + 2] + r[row * 4 + 3], 1e-6);
        }
    }

    [Fact]
    public void LayerNormWithLargeMean()
    {
        const int n = 1000;
        var data = Random(2 * n, 4, 1f, 1e4f);
        var wt = Random(n, 5);
        var bs = Random(n, 6);
        using var x = Tensor.FromArray(Cpu, data, 2, n);
        using var w = Tensor.FromArray(Cpu, wt, n);
        using var b = Tensor.FromArray(Cpu, bs, n);
        using var y = x.LayerNorm(w, b, 1e-5f);
        var expected = new double[2 * n];
        for (int r = 0; r < 2; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < n; i++) mean += data[r * n + i];
            mean /= n;
            for (int i = 0; i < n; i++) var += (data[r * n + i] - mean) * (data[r * n + i] - mean);
            var /= n;
            for (int i = 0; i < n; i++) expected[r * n + i] = (data[r * n + i] - mean) / Math.Sqrt(var + 1e-5) * wt[i] + bs[i];
        }
        Close(expected, y.ToArray<float>(), 2e-5);
    }

    [Fact]
    public void LayerNormOnBf16WithF32Weight()
    {
        var data = Random(3 * 64, 7, 3f, 2f);
        using var x32 = Tensor.FromArray(Cpu, data, 3, 64);
        using var x = x32.To(DType.BF16);
        using var w = Tensor.FromArray(Cpu, Random(64, 8), 64);
        using var y = x.LayerNorm(w, null);
        using var yRef = x.To(DType.F32).LayerNorm(w, null);
        Assert.Equal(DType.BF16, y.DType);
        using var y32 = y.To(DType.F32);
        Close(yRef.ToArray<float>().Select(v => (double)v).ToArray(), y32.ToArray<float>(), 1e-2);
    }

    private static double ErfReference(double xd)
    {
        if (Math.Abs(xd) > 6) return Math.Sign(xd);
        decimal x = (decimal)xd, sum = 0, term = x; // Taylor series in 28-digit decimal arithmetic
        for (int n = 0; n < 400 && term != 0; n++) { sum += term / (2 * n + 1); term = term * (-x * x) / (n + 1); }
        return (double)(sum * 1.1283791670955125738961589031m);
    }

    [Fact]
    public void GeluIsExactErfForm()
    {
        var data = Enumerable.Range(0, 4001).Select(i => -8f + i * 0.004f).ToArray();
        using var x = Tensor.FromArray(Cpu, data, data.Length);
        using var y = x.Gelu();
        var r = y.ToArray<float>();
        for (int i = 0; i < data.Length; i++)
        {
            double e = data[i] * 0.5 * (1 + ErfReference(data[i] / Math.Sqrt(2)));
            // relative accuracy everywhere, the negative tail included: Phi is evaluated through erfc (fractional
            // error 1.2e-7) rather than 1 + erf, which would cancel. Below -5 the reference itself (1 + erf in
            // double) has cancelled, so only an absolute bound is checked there.
            double tol = data[i] >= -5f ? 1e-6 * Math.Abs(e) + 1e-30 : 1e-12;
            Assert.True(Math.Abs(e - r[i]) <= tol, $"gelu({data[i]}) = {r[i]}, expected {e}");
        }
    }

    [Fact]
    public void UnaryAndBinaryOnStridedAndBroadcastViews()
    {
        var ad = Random(4 * 6, 16);
        using var a = Tensor.FromArray(Cpu, ad, 4, 6);
        using var at = a.T;                                           // [6, 4], inner stride 6
        using var col = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6 }, 6, 1); // scalar per row
        using var sum = at + col;
        using var th = at.Map(UnaryOp.Tanh);
        var s = sum.ToArray<float>(); var t = th.ToArray<float>();
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 4; j++)
            {
                Near(ad[j * 6 + i] + (i + 1), s[i * 4 + j], 1e-6);
                Near(Math.Tanh(ad[j * 6 + i]), t[i * 4 + j], 3e-7);
            }
    }

    [Fact]
    public void ReduceArgMaxAndNonLastAxis()
    {
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 5, 5, 2, float.NaN, 3, 7, 1 }, 2, 4);
        Assert.Equal(new[] { 1, 0 }, x.ArgMax(-1).ToArray<int>());       // first max; NaN wins
        var data = Random(3 * 1000 * 5, 17, 1f, 100f);
        using var y = Tensor.FromArray(Cpu, data, 3, 1000, 5);
        using var s = y.Sum(1);
        using var mx = y.Max(1);
        var sr = s.ToArray<float>(); var mr = mx.ToArray<float>();
        for (int o = 0; o < 3; o++)
            for (int j = 0; j < 5; j++)
            {
                double e = 0; float m = float.MinValue;
                for (int l = 0; l < 1000; l++) { e += data[(o * 1000 + l) * 5 + j]; m = Math.Max(m, data[(o * 1000 + l) * 5 + j]); }
                Assert.Equal(e, sr[o * 5 + j], e * 1e-7);
                Assert.Equal(m, mr[o * 5 + j]);
            }
    }

    [Theory]
    [InlineData(RopeMode.RotateHalf)]
    [InlineData(RopeMode.Interleaved)]
    public void RopeOnPermutedViewWithPassThrough(RopeMode mode)
    {
        int b = 2, s = 5, heads = 3, d = 40, rot = 32;
        var xd = Random(b * s * heads * d, 18);
        using var xs = Tensor.FromArray(Cpu, xd, b, s, heads, d);
        using var x = xs.Permute(0, 2, 1, 3);                         // [B, H, S, D], strided
        var (cos, sin) = RopeTables.Build1D(s, rot);
        using var ct = Tensor.FromArray(Cpu, cos, s, rot / 2);
        using var st = Tensor.FromArray(Cpu, sin, s, rot / 2);
        using var y = x.Rope(ct, st, mode);
        var r = y.ToArray<float>();
        for (int bi = 0; bi < b; bi++)
            for (int hh = 0; hh < heads; hh++)
                for (int p = 0; p < s; p++)
                {
                    float X(int ch) => xd[((bi * s + p) * heads + hh) * d + ch];
                    float Y(int ch) => r[((bi * heads + hh) * s + p) * d + ch];
                    for (int i = 0; i < rot / 2; i++)
                    {
                        double c = cos[p * rot / 2 + i], sn = sin[p * rot / 2 + i];
                        int i1 = mode == RopeMode.RotateHalf ? i : 2 * i, i2 = mode == RopeMode.RotateHalf ? i + rot / 2 : 2 * i + 1;
                        Near(X(i1) * c - X(i2) * sn, Y(i1), 1e-6);
                        Near(X(i2) * c + X(i1) * sn, Y(i2), 1e-6);
                    }
                    for (int ch = rot; ch < d; ch++) Assert.Equal(X(ch), Y(ch));
                }
    }
}
