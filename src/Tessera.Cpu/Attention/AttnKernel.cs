using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Attention;

/// <summary>The register tile both products of flash attention run on: C[8 x 32] (+)= A^T @ B, where A is a panel
/// of 8 interleaved rows ([kc][8]) and B a panel of 32 columns ([kc][32]). Flash attention works transposed
/// (S^T = K Q^T, O^T = V^T P^T) so that both A operands (K and V^T) are packed once per head, the softmax runs along
/// keys with queries in the vector lanes, and P^T as written is already B's layout: no per-tile repacking.
/// 8 rows suit every head dim that is a multiple of 8 (32..256, 80) without padding waste, and 16 zmm accumulators
/// hide the FMA latency on two FMA ports. The body is written out because RyuJIT does not unroll loops.</summary>
internal static unsafe class AttnKernel
{
    /// <summary>Rows of the tile (A's interleave).</summary>
    public const int MR = 8;

    /// <summary>Columns of the tile (B's panel width).</summary>
    public const int NR = 32;

    /// <summary>C[r * ldc + c] = (acc ? C : 0) + sum_p a[p * 8 + r] * b[p * 32 + c], for r &lt; 8, c &lt; 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run(int kc, float* a, float* b, float* c, int ldc, bool acc)
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported) Kernel512(kc, a, b, c, ldc, acc);
        else if (Vector256.IsHardwareAccelerated) Kernel256(kc, a, b, c, ldc, acc);
        else KernelScalar(kc, a, b, c, ldc, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(int kc, float* a, float* b, float* c, int ldc, bool acc)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default,
            c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default,
            c6a = default, c6b = default, c7a = default, c7b = default;
        Vector512<float> b0, b1, x;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            b0 = Vector512.Load(b); b1 = Vector512.Load(b + 16);
            x = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[4]); c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[5]); c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[6]); c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[7]); c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            b0 = Vector512.Load(b + 32); b1 = Vector512.Load(b + 48);
            x = Vector512.Create(a[8]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[9]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[10]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[11]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[12]); c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[13]); c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[14]); c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[15]); c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            a += 16; b += 64;
        }
        if (p < kc)
        {
            b0 = Vector512.Load(b); b1 = Vector512.Load(b + 16);
            x = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[4]); c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[5]); c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[6]); c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[7]); c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
        }
        Store(c0a, c0b, c, acc); Store(c1a, c1b, c + ldc, acc); Store(c2a, c2b, c + 2 * ldc, acc); Store(c3a, c3b, c + 3 * ldc, acc);
        Store(c4a, c4b, c + 4 * ldc, acc); Store(c5a, c5b, c + 5 * ldc, acc); Store(c6a, c6b, c + 6 * ldc, acc); Store(c7a, c7b, c + 7 * ldc, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> lo, Vector512<float> hi, float* c, bool acc)
    {
        if (acc) { lo += Vector512.Load(c); hi += Vector512.Load(c + 16); }
        lo.Store(c); hi.Store(c + 16);
    }

    /// <summary>AVX2 machines: the same tile, one row at a time (4 ymm accumulators a row).</summary>
    private static void Kernel256(int kc, float* a, float* b, float* c, int ldc, bool acc)
    {
        for (int r = 0; r < MR; r++)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            float* ap = a + r, bp = b;
            for (int p = 0; p < kc; p++, ap += MR, bp += NR)
            {
                var x = Vector256.Create(*ap);
                s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp), s0);
                s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 24), s3);
            }
            float* cr = c + r * ldc;
            if (acc) { s0 += Vector256.Load(cr); s1 += Vector256.Load(cr + 8); s2 += Vector256.Load(cr + 16); s3 += Vector256.Load(cr + 24); }
            s0.Store(cr); s1.Store(cr + 8); s2.Store(cr + 16); s3.Store(cr + 24);
        }
    }

    private static void KernelScalar(int kc, float* a, float* b, float* c, int ldc, bool acc)
    {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
            {
                float s = acc ? c[r * ldc + j] : 0f;
                for (int p = 0; p < kc; p++) s = MathF.FusedMultiplyAdd(a[p * MR + r], b[p * NR + j], s);
                c[r * ldc + j] = s;
            }
    }
}
