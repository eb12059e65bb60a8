using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Kernels;

/// <summary>One output plane of a depthwise convolution (one input channel): the input plane is first copied into a
/// zero-padded scratch plane, split by column phase when the stride is above 1 (phase q holds padded columns
/// q, q + s, q + 2s, ...), so that for every tap (ky, kx) the inputs of consecutive outputs ox are consecutive floats.
/// Each run of output columns is then kh * kw vector FMAs held in a register, with the taps as broadcast scalars, and
/// no border cases: padding is the zeros of the scratch plane.</summary>
internal static unsafe class DepthwiseConv
{
    /// <summary>Floats of scratch <see cref="Plane"/> needs.</summary>
    public static long ScratchSize(int h, int w, int ph, int pw, int sw)
    {
        long hp = h + 2L * ph, wq = (w + 2L * pw + sw - 1) / sw;
        return sw * hp * wq + 2 * wq + 32; // the planes, and a padded row for the stride-2 de-interleave
    }

    /// <summary>dst[oh, ow] = bias + sum over (ky, kx) of k[ky, kx] * x[oy*sh - ph + ky*dh, ox*sw - pw + kx*dw].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Plane(float* x, int h, int w, float* k, int kh, int kw, float bias, float* dst, int oh, int ow,
        int sh, int sw, int ph, int pw, int dh, int dw, float* scratch)
    {
        int hp = h + 2 * ph, wp = w + 2 * pw, wq = (wp + sw - 1) / sw;
        long phaseSize = (long)hp * wq;
        new Span<float>(scratch, checked((int)(sw * phaseSize + 2 * wq + 32))).Clear();
        float* padded = scratch + sw * phaseSize; // zero outside [pw, pw + w)
        for (int y = 0; y < h; y++)
        {
            float* src = x + (long)y * w, prow = scratch + (long)(y + ph) * wq;
            if (sw == 1) { Buffer.MemoryCopy(src, prow + pw, w * 4L, w * 4L); continue; }
            if (sw == 2 && Avx512F.IsSupported)
            {
                Buffer.MemoryCopy(src, padded + pw, w * 4L, w * 4L);
                Deinterleave2(padded, prow, prow + phaseSize, wq);
                continue;
            }
            // Padded column pc = c + pw goes to phase pc % sw, position pc / sw; walked without dividing.
            int q = pw % sw, j = pw / sw;
            for (int c = 0; c < w; c++)
            {
                prow[q * phaseSize + j] = src[c];
                if (++q == sw) { q = 0; j++; }
            }
        }
        // Offset of each tap's input from the (row oy * sh, column ox) origin in the phase planes.
        int taps = kh * kw;
        long* off = stackalloc long[taps];
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
            {
                int col = kx * dw;
                off[ky * kw + kx] = (long)ky * dh * wq + col % sw * phaseSize + col / sw;
            }
        int ox = 0;
        if (Vector512.IsHardwareAccelerated) Rows<Vector512<float>, V512>(scratch, wq, off, k, taps, bias, dst, oh, ow, sh, ref ox);
        if (Vector256.IsHardwareAccelerated) Rows<Vector256<float>, V256>(scratch, wq, off, k, taps, bias, dst, oh, ow, sh, ref ox);
        Rows<float, V1>(scratch, wq, off, k, taps, bias, dst, oh, ow, sh, ref ox);
    }

    // even[j] = p[2j], odd[j] = p[2j + 1] for j in [0, n): two loads and two two-source permutes per 16 pairs.
    private static void Deinterleave2(float* p, float* even, float* odd, int n)
    {
        var ie = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var io = ie + Vector512<int>.One;
        int j = 0;
        for (; j <= n - 16; j += 16)
        {
            var a = Vector512.Load(p + 2 * j);
            var b = Vector512.Load(p + 2 * j + 16);
            Avx512F.PermuteVar16x32x2(a, ie, b).Store(even + j);
            Avx512F.PermuteVar16x32x2(a, io, b).Store(odd + j);
        }
        for (; j < n; j++) { even[j] = p[2 * j]; odd[j] = p[2 * j + 1]; }
    }

    // Output columns [ox, last whole vector) of every row; ox advances past them.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows<TV, S>(float* planes, int wq, long* off, float* k, int taps, float bias, float* dst,
        int oh, int ow, int sh, ref int ox0) where TV : struct where S : ISimd<TV>
    {
        int c = S.Count, end = ox0 + (ow - ox0) / c * c;
        TV b = S.Splat(bias);
        for (int oy = 0; oy < oh; oy++)
        {
            float* orow = dst + (long)oy * ow, prow = planes + (long)oy * sh * wq;
            int ox = ox0;
            // Four independent accumulators hide the FMA latency of the tap chain.
            for (; ox <= end - 4 * c; ox += 4 * c)
            {
                TV a0 = b, a1 = b, a2 = b, a3 = b;
                float* origin = prow + ox;
                for (int t = 0; t < taps; t++)
                {
                    float* q = origin + off[t];
                    TV kv = S.Splat(k[t]);
                    a0 = S.Fma(S.Load(q), kv, a0);
                    a1 = S.Fma(S.Load(q + c), kv, a1);
                    a2 = S.Fma(S.Load(q + 2 * c), kv, a2);
                    a3 = S.Fma(S.Load(q + 3 * c), kv, a3);
                }
                S.Store(a0, orow + ox); S.Store(a1, orow + ox + c); S.Store(a2, orow + ox + 2 * c); S.Store(a3, orow + ox + 3 * c);
            }
            for (; ox <= end - 2 * c; ox += 2 * c)
            {
                TV a0 = b, a1 = b;
                float* origin = prow + ox;
                for (int t = 0; t < taps; t++)
                {
                    float* q = origin + off[t];
                    TV kv = S.Splat(k[t]);
                    a0 = S.Fma(S.Load(q), kv, a0);
                    a1 = S.Fma(S.Load(q + c), kv, a1);
                }
                S.Store(a0, orow + ox); S.Store(a1, orow + ox + c);
            }
            for (; ox < end; ox += c)
            {
                TV acc = b;
                float* origin = prow + ox;
                for (int t = 0; t < taps; t++) acc = S.Fma(S.Load(origin + off[t]), S.Splat(k[t]), acc);
                S.Store(acc, orow + ox);
            }
        }
        ox0 = end;
    }
}
