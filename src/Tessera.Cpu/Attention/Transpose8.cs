using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Attention;

/// <summary>Moves 8 rows into 8 interleaved columns (Q^T panels, packed K) with one AVX2 gather per element
/// index instead of 8 scalar load/store pairs: the scalar form stores at a 128-byte stride while loading the
/// next row element, and the store/load address aliasing cost several cycles per element (measured ~8 us a
/// 64-query tile at D = 64, a fifth of a whole S = 197 attention).</summary>
internal static unsafe class Transpose8
{
    /// <summary>dst[c * dstStride + i] = rows[i][c] * scale for i &lt; 8, c &lt; d, where rows are contiguous in
    /// c. False (nothing written) when gathers are unavailable or the rows are too far apart for 32-bit offsets.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRows(float** rows, int d, float* dst, int dstStride, float scale)
    {
        if (!Avx2.IsSupported) return false;
        float* b = rows[0];
        for (int i = 1; i < 8; i++)
        {
            long off = rows[i] - b;
            if (off < int.MinValue / 4 || off > int.MaxValue / 4 - d) return false;
        }
        var idx = Vector256.Create((int)(rows[0] - b), (int)(rows[1] - b), (int)(rows[2] - b), (int)(rows[3] - b),
            (int)(rows[4] - b), (int)(rows[5] - b), (int)(rows[6] - b), (int)(rows[7] - b));
        var s = Vector256.Create(scale);
        for (int c = 0; c < d; c++) (Avx2.GatherVector256(b + c, idx, 4) * s).Store(dst + (long)c * dstStride);
        return true;
    }

    /// <summary>dst[c * dstStride + i] = rows[i][c] for i &lt; 8, c &lt; d (d a multiple of 8; rows contiguous in c): 8 x 8
    /// blocks transposed in registers (unpack, shuffle, lane permute), an exact copy. False when AVX is unavailable
    /// or d is not a multiple of 8.</summary>
    public static bool TryRowsInRegisters(float** rows, int d, float* dst, int dstStride)
    {
        if (!Avx.IsSupported || (d & 7) != 0) return false;
        float* p0 = rows[0], p1 = rows[1], p2 = rows[2], p3 = rows[3], p4 = rows[4], p5 = rows[5], p6 = rows[6], p7 = rows[7];
        for (int c = 0; c < d; c += 8)
        {
            Vector256<float> r0 = Avx.LoadVector256(p0 + c), r1 = Avx.LoadVector256(p1 + c), r2 = Avx.LoadVector256(p2 + c), r3 = Avx.LoadVector256(p3 + c),
                r4 = Avx.LoadVector256(p4 + c), r5 = Avx.LoadVector256(p5 + c), r6 = Avx.LoadVector256(p6 + c), r7 = Avx.LoadVector256(p7 + c);
            Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3),
                t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
            Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE),
                u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
            float* o = dst + (long)c * dstStride;
            Avx.Permute2x128(u0, u4, 0x20).Store(o);
            Avx.Permute2x128(u1, u5, 0x20).Store(o + dstStride);
            Avx.Permute2x128(u2, u6, 0x20).Store(o + 2L * dstStride);
            Avx.Permute2x128(u3, u7, 0x20).Store(o + 3L * dstStride);
            Avx.Permute2x128(u0, u4, 0x31).Store(o + 4L * dstStride);
            Avx.Permute2x128(u1, u5, 0x31).Store(o + 5L * dstStride);
            Avx.Permute2x128(u2, u6, 0x31).Store(o + 6L * dstStride);
            Avx.Permute2x128(u3, u7, 0x31).Store(o + 7L * dstStride);
        }
        return true;
    }

    /// <summary>dst[c] = src[c * srcStride] * scale for c &lt; d (a column of O^T into a contiguous output row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Column(float* src, int srcStride, int d, float* dst, float scale)
    {
        int c = 0;
        if (Avx2.IsSupported)
        {
            var idx = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * srcStride;
            var s = Vector256.Create(scale);
            for (; c + 8 <= d; c += 8) (Avx2.GatherVector256(src + (long)c * srcStride, idx, 4) * s).Store(dst + c);
        }
        for (; c < d; c++) dst[c] = src[(long)c * srcStride] * scale;
    }
}
