using System.Runtime.InteropServices;

namespace Tessera.Cuda;

// Conv2d and PatchEmbed through ConvKernels.ImplicitGemm (64x64x16 tiles, 256 threads): a GEMM per (image, group)
// whose input tile is gathered straight from x (no im2col buffer). Patch embedding is the same kernel with
// kernel = stride = patch, writing [B, N, D] through the output's channel and pixel strides.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst)
    {
        Require(x.Rank == 4 && weight.Rank == 4 && dst.Rank == 4 && IsPlainFloat(x.DType) && IsPlainFloat(weight.DType) && IsPlainFloat(dst.DType),
            $"conv2d: x {x.DType.Name()} {x.Shape}, weight {weight.DType.Name()} {weight.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float NCHW tensors");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int o = weight.Shape[0], cg = weight.Shape[1], kh = weight.Shape[2], kw = weight.Shape[3], g = p.Groups;
        Require(g > 0 && cg > 0 && c == cg * g && o % g == 0 && dst.Shape[0] == b && dst.Shape[1] == o
                && dst.Shape[2] == Conv2dParams.OutputSize(h, kh, p.StrideH, p.PadH, p.DilationH)
                && dst.Shape[3] == Conv2dParams.OutputSize(w, kw, p.StrideW, p.PadW, p.DilationW),
            $"conv2d: x {x.Shape}, weight {weight.Shape}, {p} do not give dst {dst.Shape}");
        Require(p.StrideH > 0 && p.StrideW > 0 && p.DilationH > 0 && p.DilationW > 0 && p.PadH >= 0 && p.PadW >= 0,
            $"conv2d: {p} needs positive strides and dilations and non-negative padding");
        CheckVector("conv2d", bias, o);
        Require(dst.IsContiguous, $"conv2d: dst {dst.Shape} must be contiguous");
        if (dst.ElementCount == 0) return;
        int oh = dst.Shape[2], ow = dst.Shape[3];
        var geom = new ConvGeomArg
        {
            B = b, G = g, Cg = cg, H = h, W = w, Og = o / g, KH = kh, KW = kw, OH = oh, OW = ow,
            SH = p.StrideH, SW = p.StrideW, PH = p.PadH, PW = p.PadW, DH = p.DilationH, DW = p.DilationW,
            K = checked(cg * kh * kw), N = checked(oh * ow),
        };
        // NCHW output seen as [B, O, N]: image stride, channel stride, pixel stride (1: dst is contiguous).
        var dl = Tensor4Arg.Of(dst) with { S2 = 1, S3 = 0 };
        LaunchConv(x, weight, bias, dst, dl, geom);
        // The fused activation and affine of Conv2dParams as the element-wise kernels, in place (the conv kernel has no
        // epilogue beyond the bias yet).
        if (p.Activation != Activation.None) Unary(ActivationOp(p.Activation), dst, dst);
        if (p.OutScale != 1f || p.OutShift != 0f) Affine(dst, dst, p.OutScale, p.OutShift);
    }

    private static UnaryOp ActivationOp(Activation act) => act switch
    {
        Activation.Gelu => UnaryOp.Gelu,
        Activation.GeluTanh => UnaryOp.GeluTanh,
        Activation.QuickGelu => UnaryOp.QuickGelu,
        Activation.Silu => UnaryOp.Silu,
        Activation.Relu => UnaryOp.Relu,
        Activation.HardSwish => UnaryOp.HardSwish,
        _ => throw new TesseraException($"cuda conv2d: activation {act} has no element-wise kernel"),
    };

    /// <inheritdoc/>
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst)
    {
        Require(x.Rank == 4 && weight.Rank == 4 && dst.Rank == 3 && IsPlainFloat(x.DType) && IsPlainFloat(weight.DType) && IsPlainFloat(dst.DType),
            $"patch_embed: x {x.DType.Name()} {x.Shape}, weight {weight.DType.Name()} {weight.Shape}, dst {dst.DType.Name()} {dst.Shape} must be float [B, C, H, W], [D, C, P, P], [B, N, D]");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], d = weight.Shape[0];
        Require(patch > 0 && weight.Shape[1] == c && weight.Shape[2] == patch && weight.Shape[3] == patch && h % patch == 0 && w % patch == 0
                && dst.Shape[0] == b && dst.Shape[1] == h / patch * (w / patch) && dst.Shape[2] == d,
            $"patch_embed: x {x.Shape}, weight {weight.Shape} and patch {patch} do not give dst {dst.Shape}");
        CheckVector("patch_embed", bias, d);
        if (dst.ElementCount == 0) return;
        var geom = new ConvGeomArg
        {
            B = b, G = 1, Cg = c, H = h, W = w, Og = d, KH = patch, KW = patch, OH = h / patch, OW = w / patch,
            SH = patch, SW = patch, DH = 1, DW = 1, K = checked(c * patch * patch), N = h / patch * (w / patch),
        };
        // [B, N, D]: image stride, channel (D) stride, pixel (N) stride.
        var dl = new Tensor4Arg { Offset = dst.Offset, DType = (int)dst.DType, S0 = dst.Strides[0], S1 = dst.Strides[2], S2 = dst.Strides[1] };
        LaunchConv(x, weight, bias, dst, dl, geom);
    }

    private void LaunchConv(Tensor x, Tensor weight, Tensor? bias, Tensor dst, Tensor4Arg dl, ConvGeomArg geom)
    {
        long tiles = (long)geom.B * geom.G * ((geom.Og + 63) / 64) * ((geom.N + 63) / 64);
        RunBlocks("ConvKernels.ImplicitGemm", tiles, WholeView(x), KernelArg.Struct(Tensor4Arg.Of(x)), WholeView(weight),
            KernelArg.Struct(Tensor4Arg.Of(weight)), VecView(bias), KernelArg.Struct(VecArgHost.Of(bias)),
            WholeView(dst), KernelArg.Struct(dl), KernelArg.Struct(geom));
    }
}

/// <summary>The host mirror of Tessera.Kernels.Tensor4: dtype, first element and up to four strides (elements).</summary>
[StructLayout(LayoutKind.Sequential)]
internal record struct Tensor4Arg
{
    public long Offset, S0, S1, S2, S3;
    public int DType, Pad;

    /// <summary>A tensor of rank 4 or less, its strides right-aligned into S0..S3 (missing leading ones 0).</summary>
    public static Tensor4Arg Of(Tensor t)
    {
        Span<long> s = stackalloc long[4];
        s.Clear();
        int r = t.Rank;
        if (r > 4) throw new TesseraException($"cuda: {t.Shape} has more than 4 dimensions");
        for (int i = 0; i < r; i++) s[4 - r + i] = t.Strides[i];
        return new Tensor4Arg { Offset = t.Offset, DType = (int)t.DType, S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3] };
    }
}

/// <summary>The host mirror of Tessera.Kernels.ConvGeom.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ConvGeomArg
{
    public int B, G, Cg, H, W, Og, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW;
    public int K, N;
}
