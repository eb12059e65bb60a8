using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>ConvKernels.ImplicitGemm on the CPU accelerator against NaiveImageOps.Conv2d and NaiveImageOps.PatchEmbed:
/// stride, padding, dilation, groups, depthwise, sizes that are not multiples of the 64x64x16 tile, a strided
/// (channel-last) input view, a half-precision weight.</summary>
public sealed class ConvKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    private static Tensor4 Contig(int dtype, params int[] dims)
    {
        var s = new long[4];
        long acc = 1;
        for (int i = 3; i >= 0; i--)
        {
            int d = i - (4 - dims.Length);
            if (d < 0) break;
            s[i] = acc; acc *= dims[d];
        }
        return new Tensor4 { DType = dtype, S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3] };
    }

    private static ConvGeom Geom(int b, int c, int h, int w, int o, int kh, int kw, Conv2dParams p)
    {
        int oh = Conv2dParams.OutputSize(h, kh, p.StrideH, p.PadH, p.DilationH), ow = Conv2dParams.OutputSize(w, kw, p.StrideW, p.PadW, p.DilationW);
        return new ConvGeom
        {
            B = b, G = p.Groups, Cg = c / p.Groups, H = h, W = w, Og = o / p.Groups, KH = kh, KW = kw, OH = oh, OW = ow,
            SH = p.StrideH, SW = p.StrideW, PH = p.PadH, PW = p.PadW, DH = p.DilationH, DW = p.DilationW,
            K = c / p.Groups * kh * kw, N = oh * ow,
        };
    }

    [Theory]
    [InlineData(1, 3, 9, 11, 5, 3, 3, 1, 1, 0, 1, 1)]       // plain 3x3, no padding
    [InlineData(2, 4, 13, 10, 6, 3, 3, 2, 2, 1, 1, 1)]      // stride 2, padding 1
    [InlineData(1, 3, 12, 12, 4, 3, 2, 1, 1, 2, 2, 1)]      // dilation 2, padding 2, non-square kernel
    [InlineData(2, 4, 9, 9, 6, 3, 3, 1, 2, 1, 1, 2)]        // groups 2, stride (1, 2)
    [InlineData(1, 6, 10, 9, 6, 3, 3, 1, 1, 1, 1, 6)]       // depthwise
    [InlineData(1, 4, 8, 8, 8, 3, 3, 2, 2, 1, 1, 4)]        // depthwise with channel multiplier 2
    [InlineData(1, 5, 11, 30, 70, 1, 1, 1, 1, 0, 1, 1)]     // 1x1: N = 330 and M = 70, past one tile each way
    [InlineData(1, 8, 7, 7, 3, 5, 5, 1, 1, 2, 1, 1)]        // K = 200 (13 k-tiles)
    [InlineData(2, 9, 7, 11, 67, 3, 3, 1, 1, 1, 1, 1)]      // the VAE decoders' "same" 3x3 (stride 1, padding 1), O past one tile
    public void Conv2d_matches_the_reference(int b, int c, int h, int w, int o, int kh, int kw, int sh, int sw, int pad, int dil, int groups)
    {
        var p = new Conv2dParams(sh, sw, pad, pad, dil, dil, groups);
        var g = Geom(b, c, h, w, o, kh, kw, p);
        var x = Values(b * c * h * w, 1); var wt = Values(o * (c / groups) * kh * kw, 2); var bias = Values(o, 3);
        using var bx = _h.Bytes(x); using var bw = _h.Bytes(wt); using var bb = _h.Bytes(bias);
        int outCount = b * o * g.N;
        using var bd = _h.Zeros<byte>(outCount * 4);
        var dl = new Tensor4 { DType = ElementCodes.F32, S0 = (long)o * g.N, S1 = g.N, S2 = 1 };
        _h.Launch(typeof(ConvKernels), nameof(ConvKernels.ImplicitGemm), grid: 3, group: ConvKernels.Threads,
            bx.View, Contig(ElementCodes.F32, b, c, h, w), bw.View, Contig(ElementCodes.F32, o, c / groups, kh, kw),
            bb.View, new VecArg { DType = ElementCodes.F32, Stride = 1 }, bd.View, dl, g);
        var want = NaiveImageOps.Conv2d(Nd([b, c, h, w], x), Nd([o, c / groups, kh, kw], wt), Nd([o], bias), p);
        AssertClose(want.Data, _h.F32(bd, outCount));
    }

    [Fact]
    public void Conv2d_reads_a_channel_last_view_and_an_f16_weight_without_bias()
    {
        // x stored [B, H, W, C] and seen as [B, C, H, W] (strides H*W*C, 1, W*C, C); weight in f16.
        const int b = 2, c = 3, h = 7, w = 6, o = 4, k = 3;
        var p = Conv2dParams.Square(stride: 1, padding: 1);
        var g = Geom(b, c, h, w, o, k, k, p);
        var xs = Values(b * h * w * c, 4); var wt = Values(o * c * k * k, 5);
        var w16 = wt.Select(v => (System.Half)v).ToArray();
        var xn = new double[b * c * h * w];
        for (int i = 0; i < b; i++) for (int ch = 0; ch < c; ch++) for (int y = 0; y < h; y++) for (int xx = 0; xx < w; xx++)
            xn[((i * c + ch) * h + y) * w + xx] = xs[((i * h + y) * w + xx) * c + ch];
        using var bx = _h.Bytes(xs); using var bw = _h.Bytes(w16); using var none = _h.Zeros<byte>(4);
        using var bd = _h.Zeros<byte>(b * o * g.N * 4);
        var xl = new Tensor4 { DType = ElementCodes.F32, S0 = h * w * c, S1 = 1, S2 = w * c, S3 = c };
        _h.Launch(typeof(ConvKernels), nameof(ConvKernels.ImplicitGemm), grid: 1, group: ConvKernels.Threads,
            bx.View, xl, bw.View, Contig(ElementCodes.F16, o, c, k, k), none.View, new VecArg { DType = -1 },
            bd.View, new Tensor4 { DType = ElementCodes.F32, S0 = (long)o * g.N, S1 = g.N, S2 = 1 }, g);
        var want = NaiveImageOps.Conv2d(new Nd([b, c, h, w], xn), new Nd([o, c, k, k], [.. w16.Select(v => (double)(float)v)]), null, p);
        AssertClose(want.Data, _h.F32(bd, b * o * g.N));
    }

    [Theory]
    [InlineData(1, 3, 8, 12, 5, 4)]
    [InlineData(2, 3, 10, 10, 70, 5)] // D = 70: two channel tiles
    [InlineData(1, 2, 4, 4, 6, 1)]
    public void PatchEmbed_matches_the_reference(int b, int c, int h, int w, int d, int patch)
    {
        var p = Conv2dParams.Square(stride: patch);
        var g = Geom(b, c, h, w, d, patch, patch, p);
        var x = Values(b * c * h * w, 6); var wt = Values(d * c * patch * patch, 7); var bias = Values(d, 8);
        using var bx = _h.Bytes(x); using var bw = _h.Bytes(wt); using var bb = _h.Bytes(bias);
        using var bd = _h.Zeros<byte>(b * g.N * d * 4);
        var dl = new Tensor4 { DType = ElementCodes.F32, S0 = (long)g.N * d, S1 = 1, S2 = d };
        _h.Launch(typeof(ConvKernels), nameof(ConvKernels.ImplicitGemm), grid: 2, group: ConvKernels.Threads,
            bx.View, Contig(ElementCodes.F32, b, c, h, w), bw.View, Contig(ElementCodes.F32, d, c, patch, patch),
            bb.View, new VecArg { DType = ElementCodes.F32, Stride = 1 }, bd.View, dl, g);
        var want = NaiveImageOps.PatchEmbed(Nd([b, c, h, w], x), Nd([d, c, patch, patch], wt), Nd([d], bias), patch);
        AssertClose(want.Data, _h.F32(bd, b * g.N * d));
    }
}
