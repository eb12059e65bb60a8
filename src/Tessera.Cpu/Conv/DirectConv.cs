using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu.Conv;

// Direct dense convolution (one group, NCHW, f32) for small kernels such as 3x3 at stride 1 or 2: no im2col matrix.
// The input is first copied into a zero-padded buffer, split by column phase for strided convs (phase q of a row
// holds columns q, q + sW, q + 2 sW, ...), so that every kernel tap of every stride reads whole vectors of
// consecutive output pixels with plain loads and no bounds checks. A micro-tile of 8 output channels x 48 output
// pixels (24 accumulators) then sums input channels x taps: per tap, 3 vector loads and 8 weight broadcasts feed 24
// FMAs. Weights are packed [ocBlock][ic][tap][8], zero-filled past the last output channel.
// The im2col + GEMM route writes and reads a K x pixels matrix (K = Cin kH kW); for a convolution with few output
// channels (the DB head's 96 -> 24) that traffic, not the arithmetic, set its speed.
internal static unsafe class DirectConv
{
    private const int Oc = 8, Lanes = 16, Tile = 3 * Lanes;

    /// <summary>Whether this machine can run the kernel (AVX-512).</summary>
    public static bool Supported => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Whether this kernel should run a convolution rather than im2col + GEMM: one group, more than one tap
    /// (1x1 is a GEMM on the input as it lies), at most 64 output channels (measured, `peer ppocr-det --conv-ab 1`:
    /// 1.3-2.4x faster than im2col + GEMM at the detector's 3 -> 16 and 96 -> 24 convs and at 64 -> 64 on 56 x 56;
    /// slower at 128 and 256 channels, where the GEMM's larger tiles win) and output rows of 32 pixels or more
    /// (a 16-lane tile on a narrow row computes mostly padding).</summary>
    public static bool Applies(int groups, int kh, int kw, int outChannels, int outWidth) =>
        Supported && groups == 1 && kh * kw > 1 && outChannels <= 64 && outWidth >= 32;

    /// <summary>dst [B, O, OH, OW] = conv(x [B, C, H, W], w [O, C, kH, kW]) + bias [O] (or none), all contiguous f32,
    /// with the stride, padding and dilation of <paramref name="p"/> (groups must be 1).</summary>
    public static void Run(float* x, float* w, float* bias, float* dst, int batch, int c, int h, int wd, int o,
        int kh, int kw, int oh, int ow, Conv2dParams p, int threads)
    {
        int sH = p.StrideH, sW = p.StrideW, taps = kh * kw;
        int owT = (ow + Lanes - 1) / Lanes * Lanes;                      // output columns computed (whole vectors)
        int rows = (oh - 1) * sH + (kh - 1) * p.DilationH + 1;           // padded input rows read
        long cols = owT + (long)(kw - 1) * p.DilationW / sW;             // columns per phase read
        long phase = rows * cols, plane = phase * sW;                    // floats per phase, per input channel
        int ocBlocks = (o + Oc - 1) / Oc;

        using var wpk = new Scratch((long)ocBlocks * c * taps * Oc);
        PackWeights(w, wpk.P, o, c, taps, ocBlocks);
        var tapOff = new long[taps];
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
            {
                int col = kx * p.DilationW;
                tapOff[ky * kw + kx] = col % sW * phase + (long)ky * p.DilationH * cols + col / sW;
            }
        var biasPk = new float[ocBlocks * Oc];
        if (bias != null) new ReadOnlySpan<float>(bias, o).CopyTo(biasPk);

        using var pad = new Scratch((long)batch * c * plane);
        float* pp = pad.P;
        CpuParallel.For((long)batch * c, threads, 8, (p0, p1) =>
        {
            for (long i = p0; i < p1; i++) FillPadded(x + i * h * wd, h, wd, pp + i * plane, rows, cols, sW, p.PadH, p.PadW, phase);
        });

        // Work items: (batch, output row, oc block), oc blocks innermost so consecutive items reuse the same input rows.
        long items = (long)batch * oh * ocBlocks;
        CpuParallel.For(items, threads, 4, (i0, i1) =>
        {
            long* offs = stackalloc long[taps];
            float* tmp = stackalloc float[Oc * Tile];
            for (long it = i0; it < i1; it++)
            {
                int ob = (int)(it % ocBlocks);
                long rowIdx = it / ocBlocks;
                int oy = (int)(rowIdx % oh), bi = (int)(rowIdx / oh);
                float* inRow = pp + (long)bi * c * plane + (long)oy * sH * cols;
                for (int t = 0; t < taps; t++) offs[t] = tapOff[t];
                float* wBlock = wpk.P + (long)ob * c * taps * Oc;
                int valid = Math.Min(Oc, o - ob * Oc);
                float* outRow = dst + (((long)bi * o + ob * Oc) * oh + oy) * ow;
                long outStride = (long)oh * ow;
                fixed (float* bb = &biasPk[ob * Oc])
                {
                    // Whole tiles of all 8 channels go straight to dst; a tile cut by the right edge or by the last
                    // channel goes through tmp [8, 48], so the tile kernels store unconditionally and call nothing
                    // (a call inside them made the JIT keep every accumulator on the stack).
                    int x0 = 0;
                    for (; x0 + Tile <= owT; x0 += Tile)
                    {
                        if (valid == Oc && x0 + Tile <= ow) Tile8x48(inRow + x0, plane, c, offs, taps, wBlock, bb, outRow + x0, outStride);
                        else { Tile8x48(inRow + x0, plane, c, offs, taps, wBlock, bb, tmp, Tile); CopyOut(tmp, outRow + x0, outStride, valid, Math.Min(Tile, ow - x0)); }
                    }
                    for (; x0 < owT; x0 += Lanes)
                    {
                        if (valid == Oc && x0 + Lanes <= ow) Tile8x16(inRow + x0, plane, c, offs, taps, wBlock, bb, outRow + x0, outStride);
                        else { Tile8x16(inRow + x0, plane, c, offs, taps, wBlock, bb, tmp, Tile); CopyOut(tmp, outRow + x0, outStride, valid, Math.Min(Lanes, ow - x0)); }
                    }
                }
            }
        });
    }

    /// <summary>w [O, C, taps] into [ocBlock][C][taps][8], channels past O zero.</summary>
    private static void PackWeights(float* w, float* dst, int o, int c, int taps, int ocBlocks)
    {
        new Span<float>(dst, ocBlocks * c * taps * Oc).Clear();
        for (int oc = 0; oc < o; oc++)
            for (int ic = 0; ic < c; ic++)
                for (int t = 0; t < taps; t++)
                    dst[(((long)(oc / Oc) * c + ic) * taps + t) * Oc + oc % Oc] = w[((long)oc * c + ic) * taps + t];
    }

    /// <summary>One input plane into its padded, phase-split copy: dst[q][r][j] = x[r - padH][j sW + q - padW], 0
    /// outside the input.</summary>
    private static void FillPadded(float* x, int h, int wd, float* dst, int rows, long cols, int sW, int padH, int padW, long phase)
    {
        for (int q = 0; q < sW; q++)
            for (int r = 0; r < rows; r++)
            {
                float* d = dst + q * phase + r * cols;
                int iy = r - padH;
                if (iy < 0 || iy >= h) { new Span<float>(d, (int)cols).Clear(); continue; }
                float* src = x + (long)iy * wd;
                if (sW == 1)
                {
                    // Columns j - padW: zeros, then the row, then zeros.
                    int lead = Math.Min(padW, (int)cols), body = (int)Math.Clamp(wd, 0, cols - lead);
                    new Span<float>(d, lead).Clear();
                    new ReadOnlySpan<float>(src, body).CopyTo(new Span<float>(d + lead, body));
                    new Span<float>(d + lead + body, (int)cols - lead - body).Clear();
                    continue;
                }
                for (long j = 0; j < cols; j++)
                {
                    long ix = j * sW + q - padW;
                    d[j] = ix >= 0 && ix < wd ? src[ix] : 0f;
                }
            }
    }

    /// <summary>8 output channels x 48 pixels: out[o][x] = bias[o] + sum over ic, taps of w[o] in[ic][tap + x].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x48(float* inp, long plane, int c, long* offs, int taps, float* wk, float* bias, float* outp, long outStride)
    {
        Vector512<float> a00 = Vector512.Create(bias[0]), a01 = a00, a02 = a00;
        Vector512<float> a10 = Vector512.Create(bias[1]), a11 = a10, a12 = a10;
        Vector512<float> a20 = Vector512.Create(bias[2]), a21 = a20, a22 = a20;
        Vector512<float> a30 = Vector512.Create(bias[3]), a31 = a30, a32 = a30;
        Vector512<float> a40 = Vector512.Create(bias[4]), a41 = a40, a42 = a40;
        Vector512<float> a50 = Vector512.Create(bias[5]), a51 = a50, a52 = a50;
        Vector512<float> a60 = Vector512.Create(bias[6]), a61 = a60, a62 = a60;
        Vector512<float> a70 = Vector512.Create(bias[7]), a71 = a70, a72 = a70;
        for (int ic = 0; ic < c; ic++, inp += plane)
            for (int t = 0; t < taps; t++, wk += Oc)
            {
                float* s = inp + offs[t];
                var v0 = Vector512.Load(s); var v1 = Vector512.Load(s + 16); var v2 = Vector512.Load(s + 32);
                var q = Vector512.Create(wk[0]); a00 = Avx512F.FusedMultiplyAdd(q, v0, a00); a01 = Avx512F.FusedMultiplyAdd(q, v1, a01); a02 = Avx512F.FusedMultiplyAdd(q, v2, a02);
                q = Vector512.Create(wk[1]); a10 = Avx512F.FusedMultiplyAdd(q, v0, a10); a11 = Avx512F.FusedMultiplyAdd(q, v1, a11); a12 = Avx512F.FusedMultiplyAdd(q, v2, a12);
                q = Vector512.Create(wk[2]); a20 = Avx512F.FusedMultiplyAdd(q, v0, a20); a21 = Avx512F.FusedMultiplyAdd(q, v1, a21); a22 = Avx512F.FusedMultiplyAdd(q, v2, a22);
                q = Vector512.Create(wk[3]); a30 = Avx512F.FusedMultiplyAdd(q, v0, a30); a31 = Avx512F.FusedMultiplyAdd(q, v1, a31); a32 = Avx512F.FusedMultiplyAdd(q, v2, a32);
                q = Vector512.Create(wk[4]); a40 = Avx512F.FusedMultiplyAdd(q, v0, a40); a41 = Avx512F.FusedMultiplyAdd(q, v1, a41); a42 = Avx512F.FusedMultiplyAdd(q, v2, a42);
                q = Vector512.Create(wk[5]); a50 = Avx512F.FusedMultiplyAdd(q, v0, a50); a51 = Avx512F.FusedMultiplyAdd(q, v1, a51); a52 = Avx512F.FusedMultiplyAdd(q, v2, a52);
                q = Vector512.Create(wk[6]); a60 = Avx512F.FusedMultiplyAdd(q, v0, a60); a61 = Avx512F.FusedMultiplyAdd(q, v1, a61); a62 = Avx512F.FusedMultiplyAdd(q, v2, a62);
                q = Vector512.Create(wk[7]); a70 = Avx512F.FusedMultiplyAdd(q, v0, a70); a71 = Avx512F.FusedMultiplyAdd(q, v1, a71); a72 = Avx512F.FusedMultiplyAdd(q, v2, a72);
            }
        float* d0 = outp; a00.Store(d0); a01.Store(d0 + 16); a02.Store(d0 + 32);
        float* d1 = outp + outStride; a10.Store(d1); a11.Store(d1 + 16); a12.Store(d1 + 32);
        float* d2 = outp + 2 * outStride; a20.Store(d2); a21.Store(d2 + 16); a22.Store(d2 + 32);
        float* d3 = outp + 3 * outStride; a30.Store(d3); a31.Store(d3 + 16); a32.Store(d3 + 32);
        float* d4 = outp + 4 * outStride; a40.Store(d4); a41.Store(d4 + 16); a42.Store(d4 + 32);
        float* d5 = outp + 5 * outStride; a50.Store(d5); a51.Store(d5 + 16); a52.Store(d5 + 32);
        float* d6 = outp + 6 * outStride; a60.Store(d6); a61.Store(d6 + 16); a62.Store(d6 + 32);
        float* d7 = outp + 7 * outStride; a70.Store(d7); a71.Store(d7 + 16); a72.Store(d7 + 32);
    }

    /// <summary>8 output channels x 16 pixels, for the columns past the last whole 48-pixel tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x16(float* inp, long plane, int c, long* offs, int taps, float* wk, float* bias, float* outp, long outStride)
    {
        Vector512<float> a0 = Vector512.Create(bias[0]), a1 = Vector512.Create(bias[1]), a2 = Vector512.Create(bias[2]), a3 = Vector512.Create(bias[3]);
        Vector512<float> a4 = Vector512.Create(bias[4]), a5 = Vector512.Create(bias[5]), a6 = Vector512.Create(bias[6]), a7 = Vector512.Create(bias[7]);
        for (int ic = 0; ic < c; ic++, inp += plane)
            for (int t = 0; t < taps; t++, wk += Oc)
            {
                var v = Vector512.Load(inp + offs[t]);
                a0 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[0]), v, a0); a1 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[1]), v, a1);
                a2 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[2]), v, a2); a3 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[3]), v, a3);
                a4 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[4]), v, a4); a5 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[5]), v, a5);
                a6 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[6]), v, a6); a7 = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[7]), v, a7);
            }
        a0.Store(outp);
        a1.Store(outp + outStride);
        a2.Store(outp + 2 * outStride);
        a3.Store(outp + 3 * outStride);
        a4.Store(outp + 4 * outStride);
        a5.Store(outp + 5 * outStride);
        a6.Store(outp + 6 * outStride);
        a7.Store(outp + 7 * outStride);
    }

    /// <summary>The first <paramref name="valid"/> channels x <paramref name="n"/> pixels of tmp [8, 48] into dst.</summary>
    private static void CopyOut(float* tmp, float* dst, long dstStride, int valid, int n)
    {
        for (int o = 0; o < valid; o++)
            new ReadOnlySpan<float>(tmp + o * Tile, n).CopyTo(new Span<float>(dst + o * dstStride, n));
    }
}
