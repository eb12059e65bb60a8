namespace Tessera.Tests.Reference;

/// <summary>Checks the oracle on its own: known values, identities between ops, and invariants. If the
/// reference is wrong, every table row that uses it is meaningless, so it is tested before anything else.</summary>
public class ReferenceSelfTests
{
    private static Nd Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var nd = Nd.Zeros(shape);
        for (int i = 0; i < nd.Length; i++) nd.Data[i] = rng.NextDouble() * 2 - 1;
        return nd;
    }

    private static void Close(Nd expected, Nd actual, double tol = 1e-12)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tol * (1 + Math.Abs(expected.Data[i])),
                $"at {i}: expected {expected.Data[i]:R}, got {actual.Data[i]:R}");
    }

    // Values from Abramowitz & Stegun table 7.1 and the DLMF, printed to 16 digits.
    [Theory]
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(1.5, 0.9661051464753108)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    public void ErfKnownValues(double x, double expected)
    {
        Assert.Equal(expected, Erf.Of(x), 1e-15);
        Assert.Equal(-expected, Erf.Of(-x), 1e-15);
    }

    [Theory]
    [InlineData(3.0, 2.209049699858544e-05)]
    [InlineData(4.0, 1.541725790028002e-08)]
    [InlineData(5.0, 1.537459794428035e-12)]
    [InlineData(10.0, 2.088487583762545e-45)]
    public void ErfcTailKnownValues(double x, double expected) =>
        Assert.True(Math.Abs(Erf.Complement(x) / expected - 1) < 1e-13, $"erfc({x}) = {Erf.Complement(x):R}, expected {expected:R}");

    /// <summary>An independent check over a range: erf as the integral of 2/sqrt(pi) e^(-t^2), by composite
    /// Simpson's rule fine enough (error ~h^4) that it agrees to about 1e-14 (its own summation error).</summary>
    [Fact]
    public void ErfMatchesNumericalIntegral()
    {
        for (double x = -4; x <= 4; x += 0.37)
        {
            int n = 20000;
            double h = x / n, s = 0;
            for (int i = 0; i <= n; i++)
            {
                double f = Math.Exp(-(i * h) * (i * h));
                s += (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2) * f;
            }
            double integral = s * h / 3 * 2 / Math.Sqrt(Math.PI);
            Assert.True(Math.Abs(integral - Erf.Of(x)) < 2e-14, $"erf({x}) = {Erf.Of(x):R}, integral {integral:R}");
        }
        // The two branches meet at 3 (to the absolute accuracy of 1 - erf, which is what GELU needs).
        Assert.Equal(Erf.Complement(3 - 1e-13), Erf.Complement(3), 1e-15);
    }

    [Fact]
    public void GeluKnownValues()
    {
        Assert.Equal(0.8413447460685429, NaiveOps.Gelu(1), 1e-15);            // Phi(1)
        Assert.Equal(-0.15865525393145707, NaiveOps.Gelu(-1), 1e-15);
        Assert.Equal(1.96 * 0.9750021048517795, NaiveOps.Gelu(1.96), 1e-15);  // Phi(1.96)
        Assert.Equal(0, NaiveOps.Gelu(0));
        Assert.Equal(-10 * 7.619853024160527e-24, NaiveOps.Gelu(-10), 1e-35); // x Phi(x) far in the tail
        // The tanh form approximates the exact one to about 1e-3.
        for (double x = -5; x <= 5; x += 0.25) Assert.True(Math.Abs(NaiveOps.GeluTanh(x) - NaiveOps.Gelu(x)) < 1e-3);
    }

    [Fact]
    public void SoftmaxRowsSumToOneAndIgnoreShifts()
    {
        var x = Random(1, 3, 4, 9);
        var s = NaiveOps.Softmax(x);
        for (int r = 0; r < 12; r++) Assert.Equal(1, s.Data.Skip(r * 9).Take(9).Sum(), 1e-14);
        Close(s, NaiveOps.Softmax(NaiveOps.Affine(x, 1, 100)));
        // scale and mask: softmax(2x + m) with m = -inf hides that entry entirely.
        var mask = Nd.Zeros(1, 9);
        mask.Data[4] = double.NegativeInfinity;
        var sm = NaiveOps.Softmax(x, mask, 2);
        for (int r = 0; r < 12; r++) Assert.Equal(0, sm.Data[r * 9 + 4]);
        Close(NaiveOps.Softmax(NaiveOps.Affine(x, 2, 0), mask), sm);
    }

    [Fact]
    public void NormsNormalise()
    {
        var x = NaiveOps.Affine(Random(2, 5, 33), 3, 7);
        var ln = NaiveOps.LayerNorm(x, null, null, 0);
        for (int r = 0; r < 5; r++)
        {
            var row = ln.Data.Skip(r * 33).Take(33).ToArray();
            Assert.Equal(0, row.Average(), 1e-13);
            Assert.Equal(1, row.Select(v => v * v).Average(), 1e-13);
        }
        var rms = NaiveOps.RmsNorm(x, null, 0);
        for (int r = 0; r < 5; r++) Assert.Equal(1, rms.Data.Skip(r * 33).Take(33).Select(v => v * v).Average(), 1e-13);
    }

    [Fact]
    public void MatMulSmallByHand()
    {
        var a = new Nd([2, 3], [1, 2, 3, 4, 5, 6]);
        var b = new Nd([3, 2], [7, 8, 9, 10, 11, 12]);
        Assert.Equal([58, 64, 139, 154], NaiveOps.MatMul(a, b).Data);
        Assert.Equal([59, 66, 140, 156], NaiveOps.MatMul(a, b, new Nd([2], [1, 2])).Data);
        Assert.Equal([59, 0, 140, 84], NaiveOps.MatMul(a, b, new Nd([2], [1, -70]), Activation.Relu).Data);
        Assert.Equal([68, 74, 149, 164], NaiveOps.MatMul(a, b, null, Activation.None, new Nd([1], [10])).Data);
        var v = NaiveOps.MatMul(a, new Nd([3], [1, 0, -1]));
        Assert.Equal([2], v.Shape);
        Assert.Equal([-2, -2], v.Data);
        // Batch broadcasting: [2, 1, 2, 3] @ [3, 3, 2] -> [2, 3, 2, 2], each batch entry its own product.
        var ba = Random(3, 2, 1, 2, 3);
        var bb = Random(4, 3, 3, 2);
        var bc = NaiveOps.MatMul(ba, bb);
        Assert.Equal([2, 3, 2, 2], bc.Shape);
        var a1 = new Nd([2, 3], ba.Data.Skip(6).Take(6).ToArray());
        var b2 = new Nd([3, 2], bb.Data.Skip(12).Take(6).ToArray());
        Assert.Equal(NaiveOps.MatMul(a1, b2).Data, bc.Data.Skip((1 * 3 + 2) * 4).Take(4).ToArray());
    }

    [Fact]
    public void RopePreservesPairNormsAndModesArePermutations()
    {
        var x = Random(5, 2, 6, 10);
        var ang = Random(6, 6, 3);
        var cos = new Nd(ang.Shape, ang.Data.Select(a => Math.Cos(3 * a)).ToArray());
        var sin = new Nd(ang.Shape, ang.Data.Select(a => Math.Sin(3 * a)).ToArray());
        var half = NaiveOps.Rope(x, cos, sin, RopeMode.RotateHalf);
        for (int row = 0; row < 12; row++)
        {
            for (int i = 0; i < 3; i++)
            {
                double n0 = Math.Pow(x.Data[row * 10 + i], 2) + Math.Pow(x.Data[row * 10 + i + 3], 2);
                double n1 = Math.Pow(half.Data[row * 10 + i], 2) + Math.Pow(half.Data[row * 10 + i + 3], 2);
                Assert.Equal(n0, n1, 1e-14);
            }
            for (int i = 6; i < 10; i++) Assert.Equal(x.Data[row * 10 + i], half.Data[row * 10 + i]); // pass-through
        }
        // Interleaved on channels permuted so that (2i, 2i+1) lands on (i, i + R/2) equals rotate-half.
        int[] perm = [0, 3, 1, 4, 2, 5, 6, 7, 8, 9]; // interleaved position -> rotate-half position
        var xi = Nd.Zeros(x.Shape);
        for (int row = 0; row < 12; row++) for (int j = 0; j < 10; j++) xi.Data[row * 10 + j] = x.Data[row * 10 + perm[j]];
        var inter = NaiveOps.Rope(xi, cos, sin, RopeMode.Interleaved);
        for (int row = 0; row < 12; row++) for (int j = 0; j < 10; j++)
            Assert.Equal(half.Data[row * 10 + perm[j]], inter.Data[row * 10 + j], 1e-15);
        // Zero angles leave x unchanged.
        var one = new Nd([6, 3], Enumerable.Repeat(1.0, 18).ToArray());
        Assert.Equal(x.Data, NaiveOps.Rope(x, one, Nd.Zeros(6, 3), RopeMode.Interleaved).Data);
    }

    [Fact]
    public void ReductionsAndConcat()
    {
        var x = new Nd([2, 3], [1, 5, 5, -2, -7, 0]);
        Assert.Equal([11, -9], NaiveOps.Reduce(ReduceOp.Sum, x, 1, false).Data);
        Assert.Equal([-0.5, -1, 2.5], NaiveOps.Reduce(ReduceOp.Mean, x, 0, false).Data);
        Assert.Equal([2, 1], NaiveOps.Reduce(ReduceOp.ArgMax, x, -1, true).Shape);
        Assert.Equal([1, 2], NaiveOps.Reduce(ReduceOp.ArgMax, x, -1, true).Data); // first of the tied 5s
        Assert.Equal([-2, -7, 0], NaiveOps.Reduce(ReduceOp.Min, x, 0, true).Data);
        Assert.Equal([5, 0], NaiveOps.Reduce(ReduceOp.Max, x, 1, false).Data);
        var c = NaiveOps.Concat(1, x, new Nd([2, 1], [9, 8]));
        Assert.Equal([1, 5, 5, 9, -2, -7, 0, 8], c.Data);
        Assert.Equal([[1, 2], [3, 4], [5, 6]], NaiveOps.Gather(new Nd([4, 2], [0, 0, 1, 2, 3, 4, 5, 6]), new Nd([3], [1, 2, 3])).Data.Chunk(2).ToArray());
    }

    [Fact]
    public void BroadcastingFollowsNumPy()
    {
        var a = new Nd([2, 1], [1, 2]);
        var b = new Nd([3], [10, 20, 30]);
        var s = NaiveOps.Zip(BinaryOp.Add, a, b);
        Assert.Equal([2, 3], s.Shape);
        Assert.Equal([11, 21, 31, 12, 22, 32], s.Data);
    }

    [Fact]
    public void Conv2dSmallByHand()
    {
        var x = new Nd([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var w = new Nd([1, 1, 3, 3], Enumerable.Repeat(1.0, 9).ToArray());
        var r = NaiveImageOps.Conv2d(x, w, null, Conv2dParams.Square(padding: 1));
        Assert.Equal([12, 21, 16, 27, 45, 33, 24, 39, 28], r.Data);
        var s = NaiveImageOps.Conv2d(x, w, new Nd([1], [1]), Conv2dParams.Square(stride: 2, padding: 1));
        Assert.Equal([13, 17, 25, 29], s.Data);
        // Dilation 2 on a 5x5 with a 2x2 kernel of ones: each output sums x[i, j], x[i, j+2], x[i+2, j], x[i+2, j+2].
        var x5 = new Nd([1, 1, 5, 5], Enumerable.Range(0, 25).Select(i => (double)i).ToArray());
        var d = NaiveImageOps.Conv2d(x5, new Nd([1, 1, 2, 2], [1, 1, 1, 1]), null, Conv2dParams.Square(dilation: 2));
        Assert.Equal([3, 3], d.Shape.Skip(2));
        Assert.Equal(0 + 2 + 10 + 12, d.Data[0]);
    }

    [Fact]
    public void Conv2dWithKernelEqualToStrideIsPatchEmbed()
    {
        var x = Random(7, 2, 3, 8, 12);
        var w = Random(8, 5, 3, 4, 4);
        var bias = Random(9, 5);
        var conv = NaiveImageOps.Conv2d(x, w, bias, Conv2dParams.Square(stride: 4)); // [2, 5, 2, 3]
        var pe = NaiveImageOps.PatchEmbed(x, w, bias, 4);                             // [2, 6, 5]
        Assert.Equal([2, 6, 5], pe.Shape);
        for (int b = 0; b < 2; b++) for (int d = 0; d < 5; d++) for (int py = 0; py < 2; py++) for (int px = 0; px < 3; px++)
            Assert.Equal(conv[b, d, py, px], pe[b, py * 3 + px, d], 1e-13);
    }

    [Fact]
    public void Conv2dGroupsAreIndependentConvolutions()
    {
        var x = Random(10, 1, 4, 6, 5);
        var w = Random(11, 6, 2, 3, 3);
        var p = new Conv2dParams(StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilationH: 1, DilationW: 2, Groups: 2);
        var grouped = NaiveImageOps.Conv2d(x, w, null, p);
        for (int g = 0; g < 2; g++)
        {
            var xg = new Nd([1, 2, 6, 5], x.Data.Skip(g * 60).Take(60).ToArray());
            var wg = new Nd([3, 2, 3, 3], w.Data.Skip(g * 54).Take(54).ToArray());
            var one = NaiveImageOps.Conv2d(xg, wg, null, p with { Groups = 1 });
            Assert.Equal(one.Data, grouped.Data.Skip(g * one.Length).Take(one.Length).ToArray());
        }
        // A 1x1 convolution is a matmul over channels.
        var w1 = Random(12, 3, 4, 1, 1);
        var c1 = NaiveImageOps.Conv2d(x, w1, null, new Conv2dParams());
        var mm = NaiveOps.MatMul(new Nd([3, 4], w1.Data), new Nd([4, 30], x.Data));
        Close(mm, new Nd([3, 30], c1.Data));
    }

    [Fact]
    public void BicubicIdentityConstantAndHandValue()
    {
        var x = Random(13, 2, 3, 5, 7);
        Assert.Equal(x.Data, NaiveImageOps.Bicubic(x, 5, 7, alignCorners: true).Data);
        Close(x, NaiveImageOps.Bicubic(x, 5, 7, alignCorners: false));
        // The weights sum to 1, so a constant image stays constant, up and down, both modes.
        var c = new Nd([1, 1, 4, 6], Enumerable.Repeat(2.5, 24).ToArray());
        foreach (bool ac in new[] { false, true })
            foreach (var (h, w) in new[] { (9, 13), (3, 2), (1, 1) })
                Assert.All(NaiveImageOps.Bicubic(c, h, w, ac).Data, v => Assert.Equal(2.5, v, 1e-14));
        // [0, 1, 2, 3] to 8 wide, align_corners = false: output 0 samples at -0.25, so floor is -1, t = 0.75,
        // the taps clamp to [0, 0, 0, 1] and only the last weight, W(1.25) = -0.10546875, meets a non-zero value.
        var ramp = new Nd([1, 1, 1, 4], [0, 1, 2, 3]);
        Assert.Equal(-0.10546875, NaiveImageOps.Bicubic(ramp, 1, 8, false).Data[0], 1e-15);
        // align_corners = true keeps the end points.
        var up = NaiveImageOps.Bicubic(ramp, 1, 7, true);
        Assert.Equal(0, up.Data[0], 1e-15);
        Assert.Equal(3, up.Data[6], 1e-15);
        Assert.Equal(1.5, up.Data[3], 1e-15);
    }
}
