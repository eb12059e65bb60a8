using static Tessera.Tests.CpuOpsSmokeTests;

namespace Tessera.Tests;

/// <summary>Direct checks of the CPU convolution's routes (depthwise, grouped and plain im2col, 1x1 GEMM, patches,
/// row bands of a large im2col matrix, one output pixel) and of patch embedding, against a naive convolution in
/// double; the helpers are <see cref="CpuOpsSmokeTests"/>'.</summary>
public class CpuConvSmokeTests
{
    private static readonly IBackend Cpu = CpuOpsSmokeTests.Cpu;

    // Naive NCHW convolution in double.
    private static double[] ConvReference(float[] x, float[] wt, float[]? bias, int b, int c, int h, int w, int o, int kh, int kw, Conv2dParams p, out int oh, out int ow)
    {
        oh = Conv2dParams.OutputSize(h, kh, p.StrideH, p.PadH, p.DilationH);
        ow = Conv2dParams.OutputSize(w, kw, p.StrideW, p.PadW, p.DilationW);
        int cg = c / p.Groups, og = o / p.Groups;
        var y = new double[b * o * oh * ow];
        for (int bi = 0; bi < b; bi++)
            for (int oc = 0; oc < o; oc++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = bias?[oc] ?? 0;
                        int g = oc / og;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * p.StrideH - p.PadH + ky * p.DilationH, ix = ox * p.StrideW - p.PadW + kx * p.DilationW;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)wt[((oc * cg + ci) * kh + ky) * kw + kx] * x[((bi * c + g * cg + ci) * h + iy) * w + ix];
                                }
                        y[((bi * o + oc) * oh + oy) * ow + ox] = s;
                    }
        return y;
    }

    [Theory]
    [InlineData(4, 4, 3, 1, 1, 1, 4)]   // depthwise 3x3, pad 1
    [InlineData(4, 8, 3, 2, 1, 1, 4)]   // depthwise with channel multiplier 2, stride 2
    [InlineData(3, 3, 5, 1, 4, 2, 3)]   // depthwise, dilation 2
    [InlineData(4, 6, 3, 2, 1, 1, 2)]   // grouped im2col
    [InlineData(3, 5, 3, 1, 0, 1, 1)]   // plain im2col
    [InlineData(6, 4, 1, 1, 0, 1, 2)]   // 1x1 grouped GEMM
    [InlineData(3, 8, 4, 4, 0, 1, 1)]   // kernel == stride: patch route
    public void Conv2dMatchesNaive(int c, int o, int k, int stride, int pad, int dilation, int groups)
    {
        int b = 2, h = 11, w = 9;
        var p = Conv2dParams.Square(stride, pad, dilation, groups);
        var xd = Random(b * c * h * w, 10);
        var wd = Random(o * (c / groups) * k * k, 11);
        var bd = Random(o, 12);
        using var x = Tensor.FromArray(Cpu, xd, b, c, h, w);
        using var wt = Tensor.FromArray(Cpu, wd, o, c / groups, k, k);
        using var bias = Tensor.FromArray(Cpu, bd, o);
        using var y = x.Conv2d(wt, bias, p);
        var expected = ConvReference(xd, wd, bd, b, c, h, w, o, k, k, p, out int oh, out int ow);
        Assert.Equal(new[] { b, o, oh, ow }, y.Shape.Dims.ToArray());
        Close(expected, y.ToArray<float>(), 1e-5);
    }

    // An im2col matrix over 1 MB is built in bands of output rows (here 11 and 25 rows a band, the last one shorter).
    [Theory]
    [InlineData(64, 5, 3, 1, 1, 40, 38)]
    [InlineData(48, 7, 3, 2, 1, 61, 47)]
    public void Conv2dInRowBandsMatchesNaive(int c, int o, int k, int stride, int pad, int h, int w)
    {
        int b = 2;
        var p = Conv2dParams.Square(stride, pad);
        var xd = Random(b * c * h * w, 18);
        var wd = Random(o * c * k * k, 19);
        var bd = Random(o, 20);
        using var x = Tensor.FromArray(Cpu, xd, b, c, h, w);
        using var wt = Tensor.FromArray(Cpu, wd, o, c, k, k);
        using var bias = Tensor.FromArray(Cpu, bd, o);
        using var y = x.Conv2d(wt, bias, p);
        var expected = ConvReference(xd, wd, bd, b, c, h, w, o, k, k, p, out int oh, out int ow);
        Assert.True((long)c * k * k * oh * ow > 1 << 18, "the case must be larger than one band");
        Close(expected, y.ToArray<float>(), 1e-4); // sums of up to 576 f32 products
    }

    // One output pixel (squeeze-and-excitation after a global pool): the matrix-vector route, 1x1 and 3x3 (im2col).
    [Theory]
    [InlineData(40, 24, 1, 1, 0, 1)]
    [InlineData(40, 24, 1, 1, 0, 4)]
    [InlineData(6, 5, 3, 3, 0, 1)]
    public void Conv2dOnOnePixelMatchesNaive(int c, int o, int k, int hw, int pad, int groups)
    {
        int b = 2;
        var p = Conv2dParams.Square(1, pad, 1, groups);
        var xd = Random(b * c * hw * hw, 15);
        var wd = Random(o * (c / groups) * k * k, 16);
        var bd = Random(o, 17);
        using var x = Tensor.FromArray(Cpu, xd, b, c, hw, hw);
        using var wt = Tensor.FromArray(Cpu, wd, o, c / groups, k, k);
        using var bias = Tensor.FromArray(Cpu, bd, o);
        using var y = x.Conv2d(wt, bias, p);
        var expected = ConvReference(xd, wd, bd, b, c, hw, hw, o, k, k, p, out int oh, out int ow);
        Assert.Equal(new[] { b, o, 1, 1 }, new[] { y.Shape[0], y.Shape[1], oh, ow });
        Close(expected, y.ToArray<float>(), 1e-5);
    }

    [Fact]
    public void PatchEmbedEqualsConvThenFlattenTranspose()
    {
        int b = 2, c = 3, h = 12, w = 8, d = 5, patch = 4;
        var xd = Random(b * c * h * w, 13);
        var wd = Random(d * c * patch * patch, 14);
        using var x = Tensor.FromArray(Cpu, xd, b, c, h, w);
        using var wt = Tensor.FromArray(Cpu, wd, d, c, patch, patch);
        using var bias = Tensor.FromArray(Cpu, Random(d, 15), d);
        using var pe = x.PatchEmbed(wt, bias);
        // the reference: a convolution (the general im2col route, by way of a dilation-free stride-4 conv written
        // out naively), flattened to [B, D, N] and transposed to [B, N, D]
        var conv = ConvReference(xd, wd, bias.ToArray<float>(), b, c, h, w, d, patch, patch, Conv2dParams.Square(patch), out int oh, out int ow);
        int n = oh * ow;
        var expected = new double[b * n * d];
        for (int bi = 0; bi < b; bi++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++)
                    expected[(bi * n + i) * d + j] = conv[(bi * d + j) * n + i];
        Assert.Equal(new[] { b, n, d }, pe.Shape.Dims.ToArray());
        Close(expected, pe.ToArray<float>(), 1e-5);
        using var viaConv = x.Conv2d(wt, bias, Conv2dParams.Square(patch));
        using var flat = viaConv.Reshape(b, d, n);
        using var tr = flat.Transpose(1, 2);
        using var trc = tr.Contiguous();
        Close(trc.ToArray<float>().Select(v => (double)v).ToArray(), pe.ToArray<float>(), 1e-6);
    }
}
