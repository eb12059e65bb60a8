using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Cpu.Gemm;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Transposed 2-D convolution (NCHW), computed in f32 as a GEMM and a col2im, the adjoint of Conv2d's im2col route:
// for each (batch, group), cols[Og*kH*kW, H*W] = W_g^T @ x_g, where W_g [Cg, Og*kH*kW] is read in place with its
// rows and columns swapped; then every column row (oc, ky, kx) is added into output channel oc shifted by the tap,
// out[oy = iy*sH - pH + ky*dH, ox = ix*sW - pW + kx*dW] += cols[(oc, ky, kx), (iy, ix)], output planes in parallel.
// When the kernel equals the stride with no padding or dilation (the DB head's 2x2 stride 2), every output pixel
// gets exactly one tap: the col2im is then a pixel shuffle written once (no fill, no read-modify-write), over
// output rows so that a single output channel still splits over threads.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, ConvTranspose2dParams p, Tensor dst)
    {
        Check(x.Rank == 4 && weight.Rank == 4 && dst.Rank == 4 && x.DType.IsFloat() && weight.DType.IsFloat() && dst.DType.IsFloat(),
            $"conv_transpose2d: x {x.DType.Name()} {x.Shape}, weight {weight.DType.Name()} {weight.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float NCHW tensors");
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int g = p.Groups, og = weight.Shape[1], kh = weight.Shape[2], kw = weight.Shape[3], o = og * g;
        int oh = dst.Shape[2], ow = dst.Shape[3];
        Check(g > 0 && weight.Shape[0] == c && c % g == 0 && dst.Shape[0] == b && dst.Shape[1] == o
              && oh == ConvTranspose2dParams.OutputSize(h, kh, p.StrideH, p.PadH, p.OutputPadH, p.DilationH)
              && ow == ConvTranspose2dParams.OutputSize(w, kw, p.StrideW, p.PadW, p.OutputPadW, p.DilationW),
            $"conv_transpose2d: x {x.Shape}, weight {weight.Shape}, {p} do not give dst {dst.Shape}");
        Check(bias is null || (bias.Rank == 1 && bias.Shape[0] == o), $"conv_transpose2d: bias {bias?.Shape} must be [{o}]");
        if (dst.ElementCount == 0) return;

        ViaF32(dst, d32 =>
        {
            using var xc = AsF32(x);
            using var wc = AsF32(weight);
            using var bc = bias is null ? null : AsF32(bias);
            float* xp = Ptr<float>(xc), wp = Ptr<float>(wc), dp = Ptr<float>(d32), bp = bc is null ? null : Ptr<float>(bc);
            int cg = c / g, kk = kh * kw, rows = og * kk, n = h * w;
            using var cols = new Scratch((long)rows * n);
            for (int bi = 0; bi < b; bi++)
                for (int gi = 0; gi < g; gi++)
                {
                    // A = W_g^T: element (r, ci) of the [Og*kk, Cg] product operand lies at W_g[ci, r].
                    var a = new GemmOperand(wp + (long)gi * cg * rows, DType.F32, 1, rows);
                    var bm = new GemmOperand(xp + ((long)bi * c + (long)gi * cg) * n, DType.F32, n, 1);
                    Sgemm.Multiply(rows, n, cg, a, bm, cols.P, n, GemmEpilogue.None, Threads);
                    Col2Im(cols.P, dp + ((long)bi * o + (long)gi * og) * oh * ow, bp is null ? null : bp + gi * og, og, h, w, kh, kw, oh, ow, p);
                }
        });
    }

    // out[oc] = bias[oc] + sum over taps (ky, kx) of the [H, W] plane cols[(oc*kh + ky)*kw + kx] placed at the tap's
    // offset with the stride; one output channel per task, so no two tasks write the same pixel.
    private void Col2Im(float* cols, float* dst, float* bias, int og, int h, int w, int kh, int kw, int oh, int ow, ConvTranspose2dParams p)
    {
        long n = (long)h * w;
        if (kh == p.StrideH && kw == p.StrideW && p.PadH == 0 && p.PadW == 0 && p.DilationH == 1 && p.DilationW == 1 && oh == h * kh && ow == w * kw)
        {
            PixelShuffle(cols, dst, bias, og, h, w, kh, kw);
            return;
        }
        CpuParallel.For(og, Threads, 1, (r0, r1) =>
        {
            for (long oc = r0; oc < r1; oc++)
            {
                float* plane = dst + oc * oh * ow;
                new Span<float>(plane, oh * ow).Fill(bias is null ? 0f : bias[oc]);
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++)
                    {
                        float* src = cols + ((oc * kh + ky) * kw + kx) * n;
                        int shift = kx * p.DilationW - p.PadW;
                        // Input columns ix with 0 <= ix*sW + shift < ow.
                        int lo = shift >= 0 ? 0 : (-shift + p.StrideW - 1) / p.StrideW;
                        int hi = Math.Min(w - 1, ow - 1 - shift < 0 ? -1 : (ow - 1 - shift) / p.StrideW);
                        if (lo > hi) continue;
                        for (int iy = 0; iy < h; iy++)
                        {
                            int oy = iy * p.StrideH - p.PadH + ky * p.DilationH;
                            if ((uint)oy >= (uint)oh) continue;
                            float* irow = src + (long)iy * w, orow = plane + (long)oy * ow + shift;
                            if (p.StrideW == 1)
                            {
                                var outs = new Span<float>(orow + lo, hi - lo + 1);
                                TensorPrimitives.Add(outs, new ReadOnlySpan<float>(irow + lo, hi - lo + 1), outs);
                            }
                            else
                                for (int ix = lo; ix <= hi; ix++) orow[(long)ix * p.StrideW] += irow[ix];
                        }
                    }
            }
        });
    }

    // Interleave control for kw = 2: lanes 0..7 (lo) or 8..15 (hi) of a and b, alternating a, b.
    private static readonly Vector512<int> s_zipLo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> s_zipHi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    // Non-overlapping taps: out[oc, iy kh + ky, ix kw + kx] = bias[oc] + cols[(oc kh + ky) kw + kx, iy, ix].
    private void PixelShuffle(float* cols, float* dst, float* bias, int og, int h, int w, int kh, int kw)
    {
        long n = (long)h * w, ow = (long)w * kw;
        CpuParallel.For((long)og * h, Threads, Math.Max(1, 16384 / (ow * kh)), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long oc = r / h, iy = r - oc * h;
                float bv = bias is null ? 0f : bias[oc];
                for (int ky = 0; ky < kh; ky++)
                {
                    float* orow = dst + (oc * h + iy) * kh * ow + ky * ow;
                    float* src = cols + ((oc * kh + ky) * kw) * n + iy * w;   // tap kx's row lies kx * n further
                    int ix = 0;
                    if (kw == 2 && Avx512F.IsSupported)
                    {
                        var vb = Vector512.Create(bv);
                        for (; ix + 16 <= w; ix += 16)
                        {
                            var a = Vector512.Load(src + ix) + vb;
                            var b = Vector512.Load(src + n + ix) + vb;
                            Avx512F.PermuteVar16x32x2(a, s_zipLo, b).Store(orow + 2 * ix);
                            Avx512F.PermuteVar16x32x2(a, s_zipHi, b).Store(orow + 2 * ix + 16);
                        }
                    }
                    for (; ix < w; ix++)
                        for (int kx = 0; kx < kw; kx++) orow[(long)ix * kw + kx] = src[kx * n + ix] + bv;
                }
            }
        });
    }
}
