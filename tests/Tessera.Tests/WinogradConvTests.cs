using Tessera.Cpu;
using Tessera.Cpu.Conv;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>The Winograd F(2x2, 3x3) convolution (src/Tessera.Cpu/Conv/Winograd3x3.cs) called on its own against the naive
/// conv in double, over shapes that are multiples of none of its tiles: odd H and W (partial 2 x 2 tiles), widths that
/// leave a partial 16-tile group, bands whose tiles end mid-panel, output channels past whole 12-row panels, input
/// channels past one 256-channel K block, several bands per image of unequal rows, batch 2, with and without bias,
/// with the fused activation and affine; 1 and 2 threads. Normalised MSE under 1e-7 (ARCHITECTURE.md); the transforms'
/// extra rounding is far below it. Then the backend's Conv2d with a constant weight (transformed once, kept beside the
/// storage) on the route.</summary>
public class WinogradConvTests
{
    public static IEnumerable<object[]> Shapes() => new[]
    {
        //            b   c   h   w   o  bias  epilogue
        new object[] { 1, 32, 9, 19, 37, true, false },
        new object[] { 2, 33, 8, 37, 32, false, false },
        new object[] { 1, 300, 5, 11, 13, true, false },
        new object[] { 1, 3, 1, 3, 5, true, false },
        new object[] { 2, 5, 2, 2, 1, false, true },
        new object[] { 1, 40, 7, 64, 24, true, true },
        new object[] { 1, 520, 21, 40, 12, true, false },   // bands held to the V + M budget: two per image (5 and 6 tile rows)
    };

    private static float[] Draw(Random rng, int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];

    private static double[] D(float[] v) => [.. v.Select(x => (double)x)];

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void Matches_the_naive_convolution(int b, int c, int h, int w, int o, bool withBias, bool epilogue)
    {
        if (!Winograd3x3.Supported) return;   // no AVX-512: the route is never taken (im2col + GEMM runs)
        var p = epilogue ? new Conv2dParams(1, 1, 1, 1, Activation: Activation.Silu, OutScale: 0.75f, OutShift: -0.25f) : new Conv2dParams(1, 1, 1, 1);
        var rng = new Random(b * 1000 + c * 100 + w);
        float[] x = Draw(rng, b * c * h * w), wt = Draw(rng, o * c * 9), bias = Draw(rng, o);
        var want = NaiveImageOps.Conv2d(new Nd([b, c, h, w], D(x)), new Nd([o, c, 3, 3], D(wt)), withBias ? new Nd([o], D(bias)) : null, p);
        var dst = new float[b * o * h * w];
        foreach (int threads in new[] { 1, 2 })
        {
            Array.Fill(dst, float.NaN);
            fixed (float* xp = x, wp = wt, bp = bias, dp = dst)
            {
                using var u = new WinogradWeights(wp, o, c);
                Winograd3x3.Run(xp, u, withBias ? bp : null, dp, b, h, w, p, threads);
            }
            Nmse.Below(want.Data, dst, Nmse.F32Bound, $"{threads} threads, x [{b}, {c}, {h}, {w}], w [{o}, {c}, 3, 3]");
        }
    }

    [Fact]
    public void Applies_only_to_3x3_stride_1_pad_1_over_enough_channels_and_rows_that_pad_little()
    {
        if (!Winograd3x3.Supported) return;
        var p = Conv2dParams.Square(1, 1);
        Assert.True(Winograd3x3.Applies(1, 3, 3, p, 128, 128, 256));
        Assert.True(Winograd3x3.Applies(1, 3, 3, p, 32, 32, 20));     // 10 tiles padded to 16
        Assert.False(Winograd3x3.Applies(1, 3, 3, p, 32, 32, 10));    // 5 tiles padded to 16
        Assert.False(Winograd3x3.Applies(1, 3, 3, p, 16, 64, 64));
        Assert.False(Winograd3x3.Applies(1, 3, 3, p, 64, 16, 64));
        Assert.False(Winograd3x3.Applies(2, 3, 3, p with { Groups = 2 }, 64, 64, 64));
        Assert.False(Winograd3x3.Applies(1, 3, 3, Conv2dParams.Square(2, 1), 64, 64, 64));
        Assert.False(Winograd3x3.Applies(1, 3, 3, Conv2dParams.Square(1, 2), 64, 64, 64));
        Assert.False(Winograd3x3.Applies(1, 3, 3, new Conv2dParams(1, 1, 2, 2, 2, 2), 64, 64, 64));
        Assert.False(Winograd3x3.Applies(1, 5, 5, Conv2dParams.Square(1, 2), 64, 64, 64));
    }

    [Fact]
    public void Constant_weight_conv_takes_the_route_and_matches_on_every_call()
    {
        const int b = 2, c = 48, h = 13, w = 21, o = 40;
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        var rng = new Random(5);
        using var x = Tensor.FromArray(cpu, Draw(rng, b * c * h * w), b, c, h, w);
        var wv = Draw(rng, o * c * 9);
        using var plainW = Tensor.FromArray(cpu, wv, o, c, 3, 3);
        using var weight = plainW.AsConstant();
        var bv = Draw(rng, o);
        using var bias = Tensor.FromArray(cpu, bv, o);
        var p = new Conv2dParams(1, 1, 1, 1, Activation: Activation.HardSwish, OutScale: 0.8f, OutShift: 0.1f);
        Assert.True(!Winograd3x3.Supported || Winograd3x3.Applies(1, 3, 3, p, c, o, w));
        var want = NaiveImageOps.Conv2d(new Nd([b, c, h, w], D(x.ToArray<float>())), new Nd([o, c, 3, 3], D(wv)), new Nd([o], D(bv)), p);
        for (int call = 0; call < 2; call++) // the first call transforms the weight, the second reuses it
        {
            using var got = x.Conv2d(weight, bias, p);
            Nmse.Below(want.Data, got.ToArray<float>(), Nmse.F32Bound, $"call {call}");
        }
    }
}
