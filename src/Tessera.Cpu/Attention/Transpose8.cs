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
