using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>Dot products of one Q4_K or Q6_K weight row (256-element super-blocks, read in place) with TR.N rows of
/// Q8_K-style activations, as ggml's ggml_vec_dot_q4_K_q8_K / _q6_K_q8_K do on AVX2: the weights stay unsigned
/// (nibbles 0..15, or 6-bit 0..63), vpmaddubsw multiplies them with the signed activations into int16 pairs (no
/// saturation: at most 2 * 63 * 127), vpmaddwd applies the sub-block scale into int32, and the sub-block's offset
/// (Q4_K's minimum, Q6_K's -32) comes through the activations' 16-element sums.</summary>
internal static unsafe class KQuantKernels
{
    public const int Q4KBytes = 144, Q6KBytes = 210;

    /// <summary>ggml's get_scale_min_k4: 8 6-bit scales and 8 6-bit minimums packed in 12 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(int j, byte* q, out int sc, out int m)
    {
        if (j < 4) { sc = q[j] & 63; m = q[j + 4] & 63; }
        else { sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotQ4K<TR>(byte* w, int nsb, QuantizedRows xq, int r0, float* dst, long dstRowStride) where TR : struct, IRows
    {
        if (!(Avx2.IsSupported && Fma.IsSupported)) { Scalar<TR>(DType.Q4_K, w, nsb, xq, r0, dst, dstRowStride); return; }
        int n = TR.N, groups = xq.Groups;
        sbyte* x0 = xq.Row(r0), x1 = n > 1 ? xq.Row(r0 + 1) : x0, x2 = n > 2 ? xq.Row(r0 + 2) : x0, x3 = n > 3 ? xq.Row(r0 + 3) : x0;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        int* sc = stackalloc int[8];
        int* mn = stackalloc int[8];
        var low = Vector256.Create((byte)0x0F);
        for (int sb = 0; sb < nsb; sb++)
        {
            byte* blk = w + (long)sb * Q4KBytes;
            float d = F16.ToF32(*(ushort*)blk), dmin = F16.ToF32(*(ushort*)(blk + 2));
            for (int j = 0; j < 8; j++) ScaleMinK4(j, blk + 4, out sc[j], out mn[j]);
            byte* qs = blk + 16;
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            int o = sb * 256;
            for (int g = 0; g < 4; g++)
            {
                var raw = Vector256.Load(qs + 32 * g);
                var lo = raw & low;
                var hi = (raw.AsUInt16() >> 4).AsByte() & low;
                var sl = Vector256.Create((short)sc[2 * g]);
                var sh = Vector256.Create((short)sc[2 * g + 1]);
                int xo = o + 64 * g;
                i0 += Pair(lo, hi, x0 + xo, sl, sh);
                if (n > 1) i1 += Pair(lo, hi, x1 + xo, sl, sh);
                if (n > 2) i2 += Pair(lo, hi, x2 + xo, sl, sh);
                if (n > 3) i3 += Pair(lo, hi, x3 + xo, sl, sh);
            }
            f0 = Close(f0, i0, d, dmin, mn, xq, r0, sb, ref c0);
            if (n > 1) f1 = Close(f1, i1, d, dmin, mn, xq, r0 + 1, sb, ref c1);
            if (n > 2) f2 = Close(f2, i2, d, dmin, mn, xq, r0 + 2, sb, ref c2);
            if (n > 3) f3 = Close(f3, i3, d, dmin, mn, xq, r0 + 3, sb, ref c3);
        }
        dst[0] = Vector256.Sum(f0) - c0;
        if (n > 1) dst[dstRowStride] = Vector256.Sum(f1) - c1;
        if (n > 2) dst[2 * dstRowStride] = Vector256.Sum(f2) - c2;
        if (n > 3) dst[3 * dstRowStride] = Vector256.Sum(f3) - c3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Pair(Vector256<byte> lo, Vector256<byte> hi, sbyte* x, Vector256<short> sl, Vector256<short> sh) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(x)), sl)
        + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Vector256.Load(x + 32)), sh);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Close(Vector256<float> f, Vector256<int> acc, float d, float dmin, int* mn, QuantizedRows xq, int r, int sb, ref float c)
    {
        long gi = (long)r * xq.Groups + sb;
        float dx = xq.D[gi];
        short* bs = xq.BSums + gi * 16;
        int ms = 0;
        for (int j = 0; j < 8; j++) ms += mn[j] * (bs[2 * j] + bs[2 * j + 1]);
        c += dmin * dx * ms;
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(acc), Vector256.Create(d * dx), f);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotQ6K<TR>(byte* w, int nsb, QuantizedRows xq, int r0, float* dst, long dstRowStride) where TR : struct, IRows
    {
        if (!(Avx2.IsSupported && Fma.IsSupported)) { Scalar<TR>(DType.Q6_K, w, nsb, xq, r0, dst, dstRowStride); return; }
        int n = TR.N, groups = xq.Groups;
        sbyte* x0 = xq.Row(r0), x1 = n > 1 ? xq.Row(r0 + 1) : x0, x2 = n > 2 ? xq.Row(r0 + 2) : x0, x3 = n > 3 ? xq.Row(r0 + 3) : x0;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        var m4 = Vector256.Create((byte)0x0F);
        var m2 = Vector256.Create((byte)0x03);
        for (int sb = 0; sb < nsb; sb++)
        {
            byte* blk = w + (long)sb * Q6KBytes;
            sbyte* scales = (sbyte*)(blk + 192);
            float d = F16.ToF32(*(ushort*)(blk + 208));
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            for (int h = 0; h < 2; h++)
            {
                byte* ql = blk + 64 * h, qh = blk + 128 + 32 * h;
                sbyte* sc = scales + 8 * h;
                var l0 = Vector256.Load(ql); var l1 = Vector256.Load(ql + 32); var hb = Vector256.Load(qh);
                for (int part = 0; part < 4; part++)
                {
                    // part 0: low nibbles of ql[0..32) with qh bits 0-1; 1: ql[32..64) bits 2-3; 2: high nibbles of ql[0..32), bits 4-5; 3: ...
                    var lowBits = part switch { 0 => l0 & m4, 1 => l1 & m4, 2 => (l0.AsUInt16() >> 4).AsByte() & m4, _ => (l1.AsUInt16() >> 4).AsByte() & m4 };
                    var highBits = ((hb.AsUInt16() >> (2 * part)).AsByte() & m2).AsUInt16() << 4;
                    var q = lowBits | highBits.AsByte();
                    var s = Vector256.Create(Vector128.Create((short)sc[2 * part]), Vector128.Create((short)sc[2 * part + 1]));
                    int xo = sb * 256 + 128 * h + 32 * part;
                    i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Vector256.Load(x0 + xo)), s);
                    if (n > 1) i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Vector256.Load(x1 + xo)), s);
                    if (n > 2) i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Vector256.Load(x2 + xo)), s);
                    if (n > 3) i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Vector256.Load(x3 + xo)), s);
                }
            }
            f0 = Close6(f0, i0, d, scales, xq, r0, sb);
            if (n > 1) f1 = Close6(f1, i1, d, scales, xq, r0 + 1, sb);
            if (n > 2) f2 = Close6(f2, i2, d, scales, xq, r0 + 2, sb);
            if (n > 3) f3 = Close6(f3, i3, d, scales, xq, r0 + 3, sb);
        }
        dst[0] = Vector256.Sum(f0);
        if (n > 1) dst[dstRowStride] = Vector256.Sum(f1);
        if (n > 2) dst[2 * dstRowStride] = Vector256.Sum(f2);
        if (n > 3) dst[3 * dstRowStride] = Vector256.Sum(f3);
    }

    /// <summary>Adds d * dx * (acc - 32 * sum_j scale_j * bsum_j): the -32 of Q6_K's stored 6-bit values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Close6(Vector256<float> f, Vector256<int> acc, float d, sbyte* scales, QuantizedRows xq, int r, int sb)
    {
        long gi = (long)r * xq.Groups + sb;
        short* bs = xq.BSums + gi * 16;
        int corr = 0;
        for (int j = 0; j < 16; j++) corr += scales[j] * bs[j];
        acc -= Vector256.CreateScalar(32 * corr); // one lane carries the correction; the final sum adds all lanes
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(acc), Vector256.Create(d * xq.D[gi]), f);
    }

    /// <summary>Plain per-element loops: the fallback without AVX2, and the shape the vector code must match.</summary>
    private static void Scalar<TR>(DType type, byte* w, int nsb, QuantizedRows xq, int r0, float* dst, long dstRowStride) where TR : struct, IRows
    {
        int* q = stackalloc int[256];
        int* sc = stackalloc int[16];
        int* mn = stackalloc int[16];
        for (int r = 0; r < TR.N; r++)
        {
            sbyte* x = xq.Row(r0 + r);
            float acc = 0;
            for (int sb = 0; sb < nsb; sb++)
            {
                float d, dmin = 0;
                if (type == DType.Q4_K)
                {
                    byte* blk = w + (long)sb * Q4KBytes;
                    d = F16.ToF32(*(ushort*)blk); dmin = F16.ToF32(*(ushort*)(blk + 2));
                    for (int j = 0; j < 8; j++)
                    {
                        ScaleMinK4(j, blk + 4, out int s, out int m);
                        sc[2 * j] = sc[2 * j + 1] = s; mn[2 * j] = mn[2 * j + 1] = m;
                    }
                    for (int g = 0; g < 4; g++)
                        for (int l = 0; l < 32; l++)
                        {
                            q[64 * g + l] = blk[16 + 32 * g + l] & 15;
                            q[64 * g + 32 + l] = blk[16 + 32 * g + l] >> 4;
                        }
                }
                else
                {
                    byte* blk = w + (long)sb * Q6KBytes;
                    d = F16.ToF32(*(ushort*)(blk + 208));
                    for (int j = 0; j < 16; j++) { sc[j] = ((sbyte*)blk)[192 + j]; mn[j] = 32 * sc[j]; }
                    for (int h = 0; h < 2; h++)
                        for (int l = 0; l < 32; l++)
                        {
                            byte* ql = blk + 64 * h; int qh = blk[128 + 32 * h + l];
                            q[128 * h + l] = (ql[l] & 15) | ((qh & 3) << 4);
                            q[128 * h + 32 + l] = (ql[l + 32] & 15) | (((qh >> 2) & 3) << 4);
                            q[128 * h + 64 + l] = (ql[l] >> 4) | (((qh >> 4) & 3) << 4);
                            q[128 * h + 96 + l] = (ql[l + 32] >> 4) | (((qh >> 6) & 3) << 4);
                        }
                }
                // value = d * sc * q - (Q4_K: dmin * m, Q6_K: d * 32 * sc): integer sums per 16 elements.
                long isum = 0, imin = 0;
                for (int j = 0; j < 16; j++)
                {
                    int s = 0, xs = 0;
                    for (int l = 0; l < 16; l++) { s += q[16 * j + l] * x[sb * 256 + 16 * j + l]; xs += x[sb * 256 + 16 * j + l]; }
                    isum += (long)sc[j] * s; imin += (long)mn[j] * xs;
                }
                float dx = xq.D[(long)(r0 + r) * xq.Groups + sb];
                acc += type == DType.Q4_K ? d * dx * isum - dmin * dx * imin : d * dx * (isum - imin);
            }
            dst[r * dstRowStride] = acc;
        }
    }
}
