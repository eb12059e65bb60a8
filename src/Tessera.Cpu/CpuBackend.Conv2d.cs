using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Cpu.Gemm;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// 2-D convolution (NCHW) and ViT patch embedding, computed in f32. The routes, cheapest first:
// - kernel == stride, no padding or dilation, one group: non-overlapping patches, so the patch-embedding
//   GEMM (one GEMM for the whole batch) followed by a transpose to NCHW;
// - one input channel per group (depthwise, with any channel multiplier): a direct loop of vector
//   multiply-adds along output rows, far cheaper than im2col for a K = kH*kW product;
// - 1x1, stride 1, unpadded: a plain GEMM per (batch, group) on the input as it lies;
// - 3x3 stride 1 pad 1 over 32+ channels: Winograd F(2x2, 3x3) (Conv/Winograd3x3);
// - everything else: im2col per (batch, group) and a GEMM.
// The GEMM is Gemm/Sgemm.Multiply; bias, activation and the output affine (Conv2dParams.HasEpilogue) run in its
// epilogue on each finished tile (bias per row in the NCHW routes, whose rows are output channels), and on each
// finished output plane in the depthwise route, so no route makes a separate pass over the output.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst)
    {
        Check(x.Rank == 4 && weight.Rank == 4 && dst.Rank == 4 && x.DType.IsFloat() && weight.DType.IsFloat() && dst.DType.IsFloat(),
            $"conv2d: x {x.DType.Name()} {x.Shape}, weight {weight.DType.Name()} {weight.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float NCHW tensors");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int o = weight.Shape[0], cg = weight.Shape[1], kh = weight.Shape[2], kw = weight.Shape[3], g = p.Groups;
        int oh = dst.Shape[2], ow = dst.Shape[3];
        Check(g > 0 && c == cg * g && o % g == 0 && dst.Shape[0] == b && dst.Shape[1] == o
              && oh == Conv2dParams.OutputSize(h, kh, p.StrideH, p.PadH, p.DilationH)
              && ow == Conv2dParams.OutputSize(w, kw, p.StrideW, p.PadW, p.DilationW),
            $"conv2d: x {x.Shape}, weight {weight.Shape}, {p} do not give dst {dst.Shape}");
        Check(bias is null || (bias.Rank == 1 && bias.Shape[0] == o), $"conv2d: bias {bias?.Shape} must be [{o}]");
        if (dst.ElementCount == 0) return;

        ViaF32(dst, d32 =>
        {
            using var xc = AsF32(x);
            using var bc = bias is null ? null : AsF32(bias);
            float* xp = Ptr<float>(xc), dp = Ptr<float>(d32), bp = bc is null ? null : Ptr<float>(bc);
            // (A 1x1 kernel matches too, but there the NCHW input already is the GEMM's B: see GroupedGemm.)
            if (kh * kw > 1 && kh == p.StrideH && kw == p.StrideW && p.PadH == 0 && p.PadW == 0 && p.DilationH == 1 && p.DilationW == 1 && g == 1)
            {
                int n = oh * ow;
                using var tmp = new Scratch((long)b * n * o);
                PatchGemm(xp, b, c, h, w, weight, bp, kh, kw, oh, ow, tmp.P, p);
                float* t = tmp.P;
                // [B, N, O] -> [B, O, N]
                CpuParallel.For((long)b * o, Threads, 64, (r0, r1) =>
                {
                    for (long r = r0; r < r1; r++)
                    {
                        long bi = r / o, oc = r % o;
                        float* src = t + bi * n * o + oc, d = dp + r * n;
                        for (int i = 0; i < n; i++) d[i] = src[(long)i * o];
                    }
                });
                return;
            }
            using var wc = AsF32(weight);
            float* wp = Ptr<float>(wc);
            if (cg == 1) { Depthwise(xp, wp, bp, dp, b, c, h, w, o, g, kh, kw, oh, ow, p); return; }
            // Few output channels over wide rows (the DB head, stems): the direct kernel beats im2col + GEMM there
            // (Conv/DirectConv.Applies holds the measured rule). It adds the bias; the rest of the epilogue is a
            // pass over each output plane.
            if (Conv.DirectConv.Applies(g, kh, kw, o, ow))
            {
                Conv.DirectConv.Run(xp, wp, bp, dp, b, c, h, w, o, kh, kw, oh, ow, p, Threads);
                if (p.HasEpilogue)
                {
                    long plane = (long)oh * ow;
                    CpuParallel.For((long)b * o, Threads, 4, (s, e) => { for (long i = s; i < e; i++) ApplyEpilogue(dp + i * plane, (int)plane, p); });
                }
                return;
            }
            // A constant weight of one group, and few output pixels (the SVTR neck's [1, 960, 1, T] convs): the product
            // transposed, out^T [pixels, O] = cols^T @ W^T, so that the weight is the GEMM's B and is packed once and
            // kept (packing a 60 x 2880 weight on every call cost as much as the product).
            if (g == 1 && weight.Storage.IsConstant && weight.IsContiguous && (long)oh * ow <= NarrowPixels && (long)oh * ow > 1)
            {
                TransposedGemm(xp, weight, wc, bp, dp, b, c, h, w, o, kh, kw, oh, ow, p);
                return;
            }
            // 3x3 stride-1 convs over many channels (the SD VAE's, 98% of its decoder): Winograd F(2x2, 3x3), 4/9 of
            // the multiplies and no im2col matrix (Conv/Winograd3x3).
            if (Conv.Winograd3x3.Applies(g, kh, kw, p, c, o, ow))
            {
                Winograd(weight, wp, bp, xp, dp, b, c, h, w, o, p);
                return;
            }
            GroupedGemm(xp, wp, bp, dp, b, c, h, w, o, g, kh, kw, oh, ow, p);
        });
    }

    /// <summary>The im2col + GEMM route on its own, whatever the shape (f32 contiguous x, weight, dst; one group): the
    /// bench's A/B against the routes Conv2d picks.</summary>
    internal void Conv2dViaIm2Col(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst)
    {
        Check(x.DType == DType.F32 && weight.DType == DType.F32 && dst.DType == DType.F32 && x.IsContiguous && weight.IsContiguous && dst.IsContiguous && p.Groups == 1,
            "conv2d via im2col: f32 contiguous tensors, one group");
        GroupedGemm(Ptr<float>(x), Ptr<float>(weight), bias is null ? null : Ptr<float>(bias), Ptr<float>(dst), x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3],
            weight.Shape[0], 1, weight.Shape[2], weight.Shape[3], dst.Shape[2], dst.Shape[3], p);
    }

    /// <inheritdoc/>
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst)
    {
        Check(x.Rank == 4 && weight.Rank == 4 && dst.Rank == 3 && x.DType.IsFloat() && weight.DType.IsFloat() && dst.DType.IsFloat(),
            $"patch_embed: x {x.DType.Name()} {x.Shape}, weight {weight.DType.Name()} {weight.Shape}, dst {dst.DType.Name()} {dst.Shape} must be float [B, C, H, W], [D, C, P, P], [B, N, D]");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], d = weight.Shape[0];
        Check(patch > 0 && weight.Shape[1] == c && weight.Shape[2] == patch && weight.Shape[3] == patch && h % patch == 0 && w % patch == 0
              && dst.Shape[0] == b && dst.Shape[1] == h / patch * (w / patch) && dst.Shape[2] == d,
            $"patch_embed: x {x.Shape}, weight {weight.Shape} and patch {patch} do not give dst {dst.Shape}");
        Check(bias is null || (bias.Rank == 1 && bias.Shape[0] == d), $"patch_embed: bias {bias?.Shape} must be [{d}]");
        if (dst.ElementCount == 0) return;
        ViaF32(dst, d32 =>
        {
            using var xc = AsF32(x);
            using var bc = bias is null ? null : AsF32(bias);
            PatchGemm(Ptr<float>(xc), b, c, h, w, weight, bc is null ? null : Ptr<float>(bc), patch, patch, h / patch, w / patch, Ptr<float>(d32));
        });
    }

    // out [B * nh * nw, D] = patches [B * nh * nw, C*kh*kw] @ weight[D, C*kh*kw]^T + bias. Each patch row is in
    // the weight's (c, ky, kx) order; the weight is read in place (its dtype, rows and columns swapped).
    private void PatchGemm(float* x, int b, int c, int h, int w, Tensor weight, float* bias, int kh, int kw, int nh, int nw, float* output,
        Conv2dParams? epilogue = null)
    {
        int k = c * kh * kw, d = weight.Shape[0], n = nh * nw;
        using var wv = weight.IsContiguous ? weight.Share() : weight.Contiguous();
        using var patches = new Scratch((long)b * n * k);
        float* pm = patches.P;
        CpuParallel.For((long)b * nh, Threads, 4, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long bi = r / nh; int py = (int)(r % nh);
                for (int px = 0; px < nw; px++)
                {
                    float* row = pm + ((bi * nh + py) * nw + px) * k;
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < kh; ky++)
                        {
                            float* src = x + ((bi * c + ci) * h + (long)py * kh + ky) * w + (long)px * kw;
                            Buffer.MemoryCopy(src, row + (ci * kh + ky) * kw, kw * 4L, kw * 4L);
                        }
                }
            }
        });
        var a = new GemmOperand(pm, DType.F32, k, 1);
        var bw = new GemmOperand(Ptr(wv), wv.DType, 1, k);
        // Element-wise, so the conv's activation and affine may run before the transpose to NCHW.
        var ep = new GemmEpilogue(bias, epilogue?.Activation ?? Activation.None, null, 0, 0, false, epilogue?.OutScale ?? 1f, epilogue?.OutShift ?? 0f);
        Sgemm.Multiply(checked(b * n), d, k, a, bw, output, d, ep, Threads);
    }

    // One input channel per group: out[b, oc] = bias + sum over (ky, kx) of w[oc, 0, ky, kx] * shifted input plane
    // of channel oc / (O / groups), accumulated a whole output row at a time.
    private void Depthwise(float* x, float* wt, float* bias, float* dst, int b, int c, int h, int w, int o, int g,
        int kh, int kw, int oh, int ow, Conv2dParams p)
    {
        int mult = o / g;
        long scratch = DepthwiseConv.ScratchSize(h, w, p.PadH, p.PadW, p.StrideW);
        // A thread per plane group only when there are enough planes' worth of work for the hand-off to pay.
        long minPlanes = Math.Max(1, 32768 / Math.Max(1L * oh * ow * kh * kw, 1));
        CpuParallel.For((long)b * o, Threads, minPlanes, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r0, r1) =>
        {
            using var buf = new Scratch(scratch);
            for (long r = r0; r < r1; r++)
            {
                long bi = r / o; int oc = (int)(r % o);
                float* plane = dst + r * oh * ow;
                DepthwiseConv.Plane(x + (bi * c + oc / mult) * h * w, h, w, wt + (long)oc * kh * kw, kh, kw, bias is null ? 0f : bias[oc],
                    plane, oh, ow, p.StrideH, p.StrideW, p.PadH, p.PadW, p.DilationH, p.DilationW, buf.P);
                // The plane was just written (a few KB, still in L1/L2): activation and affine cost no memory pass.
                if (p.HasEpilogue) ApplyEpilogue(plane, checked(oh * ow), p);
            }
        });
    }

    // act(v) * scale + shift over a run of finished outputs.
    private static void ApplyEpilogue(float* run, int n, Conv2dParams p)
    {
        VectorMath.ApplyActivation(p.Activation, run, n);
        if (p.OutScale != 1f || p.OutShift != 0f) VectorMath.Affine(run, run, n, p.OutScale, p.OutShift);
    }

    // Output columns ox in [lo, hi] whose input column ox * stride + shift lies inside [0, w).
    private static (int Lo, int Hi) ValidRange(int shift, int stride, int w, int ow)
    {
        int lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
        int last = w - 1 - shift;
        int hi = last < 0 ? -1 : Math.Min(ow - 1, last / stride);
        return (lo, hi);
    }

    // Grouped convolution through GEMMs: for each (batch, group), out[Og, OH*OW] = W_g[Og, Cg*kh*kw] @ cols,
    // cols being the input itself for an unpadded stride-1 1x1 kernel and an im2col matrix otherwise.
    private void GroupedGemm(float* x, float* wt, float* bias, float* dst, int b, int c, int h, int w, int o, int g,
        int kh, int kw, int oh, int ow, Conv2dParams p)
    {
        int cg = c / g, og = o / g, k = cg * kh * kw, n = oh * ow;
        bool pointwise = kh == 1 && kw == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0;
        // The im2col matrix is built a band of output rows at a time, each band's product written into its columns of
        // the output: a whole-image matrix (44 MB for the DB head's 3x3 96->24 conv on 64x200) would be written to and
        // read back from memory, a band of about 1 MB stays in L2 for the GEMM to pack.
        int band = pointwise ? oh : Im2ColBandRows(k, ow, oh);
        using var cols = pointwise ? default : new Scratch((long)k * band * ow);
        for (int bi = 0; bi < b; bi++)
            for (int gi = 0; gi < g; gi++)
                for (int oy0 = 0; oy0 < oh; oy0 += band)
                {
                    int rows = Math.Min(band, oh - oy0);
                    GemmBand(x + ((long)bi * c + (long)gi * cg) * h * w, cols.P, wt + (long)gi * og * k, bias is null ? null : bias + gi * og,
                        dst + ((long)bi * o + (long)gi * og) * n + (long)oy0 * ow, n, og, cg, h, w, kh, kw, oy0, rows, ow, pointwise, p);
                }
    }

    // Most output pixels per image for which a constant weight is used as the GEMM's pre-packed B (TransposedGemm).
    private const long NarrowPixels = 256;

    // out[b] (NCHW) = (cols^T @ W^T)^T per image, W^T packed once into the weight storage's derived forms; the epilogue
    // (bias per column = output channel, activation, affine) runs on the transposed tiles.
    private void TransposedGemm(float* x, Tensor weight, Tensor wc, float* bias, float* dst, int b, int c, int h, int w, int o,
        int kh, int kw, int oh, int ow, Conv2dParams p)
    {
        int k = c * kh * kw, n = oh * ow;
        bool pointwise = kh == 1 && kw == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0;
        float* wp = Ptr<float>(wc);
        // W [O, K] row-major seen as W^T [K, O]: row stride 1, column stride K.
        var wt = new GemmOperand(wp, DType.F32, 1, k);
        var packed = weight.Storage.GetOrAddDerived(new TransposedWeightKey(weight.Offset, weight.DType, k, o, MicroKernel.NR),
            () => new PackedB(k, o, wt));
        using var cols = pointwise ? default : new Scratch((long)k * n);
        using var outT = new Scratch((long)n * o);
        var ep = new GemmEpilogue(bias, p.Activation, null, 0, 0, false, p.OutScale, p.OutShift);
        for (int bi = 0; bi < b; bi++)
        {
            float* input = x + (long)bi * c * h * w, colp = input;
            if (!pointwise) { colp = cols.P; Im2Col(input, colp, c, h, w, kh, kw, 0, oh, ow, p); }
            // cols [K, n] row-major seen as cols^T [n, K]: row stride 1, column stride n.
            Sgemm.Multiply(n, o, k, new GemmOperand(colp, DType.F32, 1, n), default, packed, outT.P, o, ep, Threads);
            float* t = outT.P, d = dst + (long)bi * o * n;
            for (int oc = 0; oc < o; oc++)
                for (int i = 0; i < n; i++) d[(long)oc * n + i] = t[(long)i * o + oc];
        }
    }

    // Winograd F(2x2, 3x3) with the transformed weight kept beside a constant weight's storage, made per call otherwise.
    private void Winograd(Tensor weight, float* wp, float* bias, float* x, float* dst, int b, int c, int h, int w, int o, Conv2dParams p)
    {
        bool keep = weight.Storage.IsConstant && weight.Storage.AllowsDerivedForms && weight.IsContiguous;
        var u = keep
            ? weight.Storage.GetOrAddDerived(new WinogradWeightKey(weight.Offset, weight.DType, o, c), () => new Conv.WinogradWeights(wp, o, c))
            : new Conv.WinogradWeights(wp, o, c);
        try { Conv.Winograd3x3.Run(x, u, bias, dst, b, h, w, p, Threads); }
        finally { if (!keep) u.Dispose(); }
    }

    // Key of a Winograd-transformed weight in a constant weight's derived forms (the contiguous weight as it lies: offset and dtype).
    private readonly record struct WinogradWeightKey(long Offset, DType Type, int O, int C);

    // Key of the packed W^T in a constant weight's derived forms (the weight's offset and dtype as it lies; f32 here).
    private readonly record struct TransposedWeightKey(long Offset, DType Type, int K, int O, int NR);

    // Floats of im2col matrix built at once (1 MB).
    private const long Im2ColBandFloats = 1L << 18;

    // A band spans at least this many output pixels (the GEMM's N), within MaxBandFloats: with wide kernels over many
    // channels (the SD VAE's 3x3 convs at 128-512 channels, K = 1152-4608) a 1 MB band was one output row, so a
    // 256x256 conv ran 256 im2col + GEMM rounds, each a fork-join of the thread pool with a thin GEMM (N = 256);
    // profiled on the VAE decoder, its 128-channel convs ran at a third of the 512-channel ones' GFLOP/s.
    private const long MinBandColumns = 2048, MaxBandFloats = 1L << 22;

    // Output rows per im2col band for K = channels x kh x kw.
    private static int Im2ColBandRows(int k, int ow, int oh)
    {
        long rows = Math.Max(Im2ColBandFloats / ((long)k * ow), (MinBandColumns + ow - 1) / ow);
        rows = Math.Min(rows, MaxBandFloats / ((long)k * ow));
        return (int)Math.Clamp(rows, 1, oh);
    }

    // Output rows [oy0, oy0 + rows) of one (batch, group): outp[og, rows * ow] (row stride ldc) = W_g @ cols + bias.
    private void GemmBand(float* input, float* cols, float* wg, float* bias, float* outp, int ldc, int og, int cg, int h, int w,
        int kh, int kw, int oy0, int rows, int ow, bool pointwise, Conv2dParams p)
    {
        int k = cg * kh * kw, n = rows * ow;
        float* colp = input;
        if (!pointwise)
        {
            colp = cols;
            Im2Col(input, colp, cg, h, w, kh, kw, oy0, rows, ow, p);
        }
        if (n == 1)
        {
            // One output pixel (squeeze-and-excitation on a pooled map): a matrix-vector product, one dot per
            // output channel; the GEMM would pad the single column to a whole register panel.
            var xs = new ReadOnlySpan<float>(colp, k);
            for (int oc = 0; oc < og; oc++)
            {
                float* o = outp + (long)oc * ldc;
                *o = TensorPrimitives.Dot(new ReadOnlySpan<float>(wg + (long)oc * k, k), xs) + (bias is null ? 0f : bias[oc]);
                if (p.HasEpilogue) ApplyEpilogue(o, 1, p);
            }
            return;
        }
        var a = new GemmOperand(wg, DType.F32, k, 1);
        var bm = new GemmOperand(colp, DType.F32, n, 1);
        var ep = new GemmEpilogue(bias, p.Activation, null, 0, 0, biasPerRow: true, p.OutScale, p.OutShift);
        Sgemm.Multiply(og, n, k, a, bm, outp, ldc, ep, Threads);
    }

    // cols[(ci*kh + ky)*kw + kx, (oy - oy0)*ow + ox] = x[ci, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw] for output rows
    // oy in [oy0, oy0 + oh), zero outside the image.
    private void Im2Col(float* x, float* cols, int cg, int h, int w, int kh, int kw, int oy0, int oh, int ow, Conv2dParams p)
    {
        long n = (long)oh * ow;
        CpuParallel.For((long)cg * kh * kw, Threads, 8, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                int kx = (int)(r % kw), ky = (int)(r / kw % kh), ci = (int)(r / kw / kh);
                float* plane = x + (long)ci * h * w, crow = cols + r * n;
                int shift = kx * p.DilationW - p.PadW;
                var (lo, hi) = ValidRange(shift, p.StrideW, w, ow);
                for (int oy = 0; oy < oh; oy++)
                {
                    float* d = crow + (long)oy * ow;
                    int iy = (oy0 + oy) * p.StrideH - p.PadH + ky * p.DilationH;
                    if ((uint)iy >= (uint)h || lo > hi) { new Span<float>(d, ow).Clear(); continue; }
                    float* irow = plane + (long)iy * w;
                    new Span<float>(d, lo).Clear();
                    if (p.StrideW == 1) Buffer.MemoryCopy(irow + lo + shift, d + lo, (hi - lo + 1) * 4L, (hi - lo + 1) * 4L);
                    else for (int ox = lo; ox <= hi; ox++) d[ox] = irow[ox * p.StrideW + shift];
                    new Span<float>(d + hi + 1, ow - hi - 1).Clear();
                }
            }
        });
    }
}
