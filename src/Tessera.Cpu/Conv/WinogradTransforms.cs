using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu.Conv;

/// <summary>The data transforms of Winograd F(2x2, 3x3), 16 tiles (16 vector lanes) at a time.
/// Input: each 4 x 4 input tile d (rows 2ty - 1 .. 2ty + 2, columns 2tx - 1 .. 2tx + 2, zero outside the image) becomes
/// V = B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]: first down the columns over whole
/// padded rows (plain vectors of consecutive pixels), then along each row with the even / odd columns of 32 pixels
/// split into two vectors by one permute each. Output: Y = A^T M A, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], the 2 x 2
/// results of 16 tiles interleaved back into 32 consecutive pixels. Only additions: the transforms lose no precision
/// beyond the rounding of each sum.</summary>
internal static unsafe class WinogradTransforms
{
    private static readonly Vector512<int> Even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> ZipLo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> ZipHi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    /// <summary>Floats of a padded input row: column j holds input column j - 1; 2 ntxPad + 2 columns are read.</summary>
    public static int PaddedRow(int ntxPad) => (2 * ntxPad + 2 + 15) / 16 * 16;

    /// <summary>V for tile rows [ty0, ty0 + nty) of one image x [C, H, W]: V_p [C, tPad] in the micro-kernel's B panels
    /// (per K block of <see cref="Winograd3x3.KC"/> channels, panels of kc x 32 tiles), tile t = (ty - ty0) ntxPad + tx,
    /// tiles past the image's (tx >= ceil(W / 2), t >= nty ntxPad) zero. plane: (2 nty + 2) padded rows; tmp: 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Input(float* x, int c, int h, int w, int ty0, int nty, int ntxPad, int tPad, float* v, float* plane, float* tmp)
    {
        int lp = PaddedRow(ntxPad), rows = 2 * nty + 2, used = nty * ntxPad;
        long pStride = (long)c * tPad;
        for (int ci = 0; ci < c; ci++)
        {
            float* src = x + (long)ci * h * w;
            for (int r = 0; r < rows; r++)
            {
                float* d = plane + (long)r * lp;
                int iy = 2 * ty0 - 1 + r;
                if (iy < 0 || iy >= h) { new Span<float>(d, lp).Clear(); continue; }
                d[0] = 0;
                Buffer.MemoryCopy(src + (long)iy * w, d + 1, w * 4L, w * 4L);
                new Span<float>(d + 1 + w, lp - 1 - w).Clear();
            }
            int k0 = ci / Winograd3x3.KC * Winograd3x3.KC, kc = Math.Min(Winograd3x3.KC, c - k0);
            float* vc = v + (long)k0 * tPad + (long)(ci - k0) * 32;
            for (int tyl = 0; tyl < nty; tyl++)
            {
                float* r0 = plane + 2L * tyl * lp, r1 = r0 + lp, r2 = r1 + lp, r3 = r2 + lp;
                for (int j = 0; j < lp; j += 16)
                {
                    var a0 = Vector512.Load(r0 + j); var a1 = Vector512.Load(r1 + j); var a2 = Vector512.Load(r2 + j); var a3 = Vector512.Load(r3 + j);
                    (a0 - a2).Store(tmp + j); (a1 + a2).Store(tmp + lp + j); (a2 - a1).Store(tmp + 2 * lp + j); (a1 - a3).Store(tmp + 3 * lp + j);
                }
                for (int tx0 = 0; tx0 < ntxPad; tx0 += 16)
                {
                    int t = tyl * ntxPad + tx0;
                    float* vt = vc + (long)(t / 32) * 32 * kc + t % 32;
                    for (int i = 0; i < 4; i++)
                    {
                        float* s = tmp + i * lp + 2 * tx0;
                        var lo = Vector512.Load(s); var hi = Vector512.Load(s + 16);
                        var lo2 = Vector512.Load(s + 2); var hi2 = Vector512.Load(s + 18);
                        var c0 = Avx512F.PermuteVar16x32x2(lo, Even, hi); var c1 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
                        var c2 = Avx512F.PermuteVar16x32x2(lo2, Even, hi2); var c3 = Avx512F.PermuteVar16x32x2(lo2, Odd, hi2);
                        float* o = vt + 4 * i * pStride;
                        (c0 - c2).Store(o); (c1 + c2).Store(o + pStride); (c2 - c1).Store(o + 2 * pStride); (c1 - c3).Store(o + 3 * pStride);
                    }
                }
            }
            // Tiles past the band's last row up to the whole panel: zeros, so the padded GEMM columns stay finite.
            for (int t = used; t < tPad; t += 16)
            {
                float* vt = vc + (long)(t / 32) * 32 * kc + t % 32;
                for (int p = 0; p < 16; p++) Vector512<float>.Zero.Store(vt + p * pStride);
            }
        }
    }

    /// <summary>dst [O, H, W] rows [2 ty0, 2 (ty0 + nty)) ∩ [0, H) = A^T M A + bias, then the activation and affine of
    /// <paramref name="p"/>; M_p [OPad, tPad] row-major, <paramref name="pStride"/> floats apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Output(float* m, long pStride, int tPad, int o, float* bias, float* dst, int h, int w, int ty0, int nty, int ntxPad, Conv2dParams p)
    {
        float* edge = stackalloc float[32];
        int y0 = 2 * ty0, y1 = Math.Min(h, 2 * (ty0 + nty));
        for (int co = 0; co < o; co++)
        {
            var b = Vector512.Create(bias == null ? 0f : bias[co]);
            float* mrow = m + (long)co * tPad, plane = dst + (long)co * h * w;
            for (int tyl = 0; tyl < nty; tyl++)
            {
                int oy = y0 + 2 * tyl;
                float* out0 = plane + (long)oy * w;
                bool second = oy + 1 < h;
                for (int tx0 = 0; 2 * tx0 < w; tx0 += 16)
                {
                    float* s = mrow + tyl * ntxPad + tx0;
                    var m00 = Vector512.Load(s); var m01 = Vector512.Load(s + pStride); var m02 = Vector512.Load(s + 2 * pStride); var m03 = Vector512.Load(s + 3 * pStride);
                    var m10 = Vector512.Load(s + 4 * pStride); var m11 = Vector512.Load(s + 5 * pStride); var m12 = Vector512.Load(s + 6 * pStride); var m13 = Vector512.Load(s + 7 * pStride);
                    var m20 = Vector512.Load(s + 8 * pStride); var m21 = Vector512.Load(s + 9 * pStride); var m22 = Vector512.Load(s + 10 * pStride); var m23 = Vector512.Load(s + 11 * pStride);
                    var m30 = Vector512.Load(s + 12 * pStride); var m31 = Vector512.Load(s + 13 * pStride); var m32 = Vector512.Load(s + 14 * pStride); var m33 = Vector512.Load(s + 15 * pStride);
                    // Rows: s0j = m0j + m1j + m2j, s1j = m1j - m2j - m3j; then the same along j.
                    var s00 = m00 + m10 + m20; var s01 = m01 + m11 + m21; var s02 = m02 + m12 + m22; var s03 = m03 + m13 + m23;
                    var s10 = m10 - m20 - m30; var s11 = m11 - m21 - m31; var s12 = m12 - m22 - m32; var s13 = m13 - m23 - m33;
                    var y00 = s00 + s01 + s02 + b; var y01 = s01 - s02 - s03 + b;
                    var y10 = s10 + s11 + s12 + b; var y11 = s11 - s12 - s13 + b;
                    int n = Math.Min(32, w - 2 * tx0);
                    StoreRow(out0 + 2 * tx0, y00, y01, n, edge);
                    if (second) StoreRow(out0 + w + 2 * tx0, y10, y11, n, edge);
                }
            }
            if (p.HasEpilogue)
            {
                // The band's rows of this channel are contiguous and were just written.
                float* run = plane + (long)y0 * w;
                int count = (y1 - y0) * w;
                VectorMath.ApplyActivation(p.Activation, run, count);
                if (p.OutScale != 1f || p.OutShift != 0f) VectorMath.Affine(run, run, count, p.OutScale, p.OutShift);
            }
        }
    }

    /// <summary>The first n of the 32 pixels y0[0], y1[0], y0[1], y1[1], ... into d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* d, Vector512<float> y0, Vector512<float> y1, int n, float* edge)
    {
        var lo = Avx512F.PermuteVar16x32x2(y0, ZipLo, y1);
        var hi = Avx512F.PermuteVar16x32x2(y0, ZipHi, y1);
        if (n == 32) { lo.Store(d); hi.Store(d + 16); return; }
        lo.Store(edge); hi.Store(edge + 16);
        for (int i = 0; i < n; i++) d[i] = edge[i];
    }
}
