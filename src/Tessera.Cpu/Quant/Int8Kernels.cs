using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>Integer dot-product kernels of the int8 GEMM. The hot one is a 4 x 24 register tile: per 4-element k
/// step, 3 loads of packed weights (8 columns x 4 k each), 4 broadcasts of 4 activation bytes, 12 vpdpbusd into 12
/// int32 accumulators. .NET 10 exposes vpdpbusd only as AVX-VNNI: 256-bit and VEX-encoded, so it reaches 16 vector
/// registers, not AVX-512's 32 (a 6 x 32 tile spilled), and the 512-bit form of the instruction is not reachable.</summary>
internal static unsafe class Int8Kernels
{
    public const int MR = 4;

    /// <summary>acc[4][24] = sum over k of xu8[r][k] * w[k][col], exact int32: <paramref name="x"/> holds 4 rows of
    /// q + 128 bytes (row stride <paramref name="xs"/>, padded to 4k), <paramref name="panel"/> one PackedI8 panel.</summary>
    public static void Tile(sbyte* panel, int k4, byte* x, int xs, int* acc)
    {
        if (AvxVnni.IsSupported) { TileVnni(panel, k4, x, xs, acc); return; }
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < PackedI8.NR; j++)
            {
                int s = 0;
                for (int kk = 0; kk < k4; kk++)
                {
                    sbyte* w = panel + kk * PackedI8.NR * 4 + j * 4;
                    byte* xr = x + r * xs + kk * 4;
                    s += xr[0] * w[0] + xr[1] * w[1] + xr[2] * w[2] + xr[3] * w[3];
                }
                acc[r * PackedI8.NR + j] = s;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileVnni(sbyte* w, int k4, byte* x, int xs, int* acc)
    {
        Vector256<int> c00 = default, c01 = default, c02 = default;
        Vector256<int> c10 = default, c11 = default, c12 = default;
        Vector256<int> c20 = default, c21 = default, c22 = default;
        Vector256<int> c30 = default, c31 = default, c32 = default;
        byte* x0 = x, x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int kk = 0; kk < k4; kk++, w += 96)
        {
            var w0 = Vector256.Load(w); var w1 = Vector256.Load(w + 32); var w2 = Vector256.Load(w + 64);
            int o = kk * 4;
            var a = Vector256.Create(*(int*)(x0 + o)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, a, w0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, a, w1); c02 = AvxVnni.MultiplyWideningAndAdd(c02, a, w2);
            a = Vector256.Create(*(int*)(x1 + o)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, a, w0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, a, w1); c12 = AvxVnni.MultiplyWideningAndAdd(c12, a, w2);
            a = Vector256.Create(*(int*)(x2 + o)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, a, w0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, a, w1); c22 = AvxVnni.MultiplyWideningAndAdd(c22, a, w2);
            a = Vector256.Create(*(int*)(x3 + o)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, a, w0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, a, w1); c32 = AvxVnni.MultiplyWideningAndAdd(c32, a, w2);
        }
        c00.Store(acc); c01.Store(acc + 8); c02.Store(acc + 16);
        c10.Store(acc + 24); c11.Store(acc + 32); c12.Store(acc + 40);
        c20.Store(acc + 48); c21.Store(acc + 56); c22.Store(acc + 64);
        c30.Store(acc + 72); c31.Store(acc + 80); c32.Store(acc + 88);
    }

    /// <summary>sum over k of w[k] * q[k] (exact int32) for an unpacked weight row and a signed activation row:
    /// the decode path, which streams the weight as stored. With VNNI, (w + 128) as unsigned bytes times q, less
    /// 128 * sum(q) (<paramref name="qSum"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int RowDot(sbyte* w, sbyte* q, int k, int qSum)
    {
        int i = 0, s = 0;
        if (AvxVnni.IsSupported && k >= 32)
        {
            var flip = Vector256.Create((byte)0x80);
            Vector256<int> a0 = default, a1 = default;
            for (; i + 64 <= k; i += 64)
            {
                a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load((byte*)w + i) ^ flip, Vector256.Load(q + i));
                a1 = AvxVnni.MultiplyWideningAndAdd(a1, Vector256.Load((byte*)w + i + 32) ^ flip, Vector256.Load(q + i + 32));
            }
            for (; i + 32 <= k; i += 32)
                a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load((byte*)w + i) ^ flip, Vector256.Load(q + i));
            int tailSum = 0;
            for (int t = i; t < k; t++) tailSum += q[t];
            s = Vector256.Sum(a0 + a1) - 128 * (qSum - tailSum);
        }
        for (; i < k; i++) s += w[i] * q[i];
        return s;
    }
}
