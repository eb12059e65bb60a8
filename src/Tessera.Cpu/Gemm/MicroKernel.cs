using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Gemm;

/// <summary>Register-blocked micro-kernels: C[MR x NR] (+)= Apanel[kc x MR]^T @ Bpanel[kc x NR], both panels packed
/// (A interleaved MR values per k, B NR values per k). The accumulators live in registers for the whole kc loop.
/// AVX-512: 12 x 32 (24 zmm accumulators + 2 B vectors + 1 broadcast = 27 of 32 registers, as MLAS);
/// AVX2: 6 x 16 (12 ymm accumulators + 3 = 15 of 16); otherwise a 4 x 4 scalar kernel.
/// The bodies are written out by hand because RyuJIT does not unroll loops.</summary>
internal static unsafe class MicroKernel
{
    /// <summary>Rows of the register tile.</summary>
    public static readonly int MR = Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? 12 : Vector256.IsHardwareAccelerated ? 6 : 4;

    /// <summary>Columns of the register tile.</summary>
    public static readonly int NR = Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? 32 : Vector256.IsHardwareAccelerated ? 16 : 4;

    /// <summary>Runs the kernel of this machine; acc: add to C instead of overwriting it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run(long kc, float* a, float* b, float* c, long ldc, bool acc)
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported) Kernel12x32(kc, a, b, c, ldc, acc);
        else if (Vector256.IsHardwareAccelerated) Kernel6x16(kc, a, b, c, ldc, acc);
        else KernelScalar4x4(kc, a, b, c, ldc, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel12x32(long kc, float* a, float* b, float* c, long ldc, bool acc)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default,
            c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default,
            c6a = default, c6b = default, c7a = default, c7b = default, c8a = default, c8b = default,
            c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
        Vector512<float> b0, b1, x;
        // The C tile (24 lines) is read or written only after the k loop; asking for it now hides its miss (C of a
        // wide product is touched once per K block and is rarely still in L1/L2) behind the FMAs, as BLIS kernels do.
        if (Sse.IsSupported)
            for (int r = 0; r < 12; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + 16); }
        long p = 0;
        // Two k steps per iteration: halves the loop overhead against 48 FMAs.
        for (; p + 2 <= kc; p += 2)
        {
            b0 = Vector512.Load(b + 0); b1 = Vector512.Load(b + 16);
            x = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[4]); c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[5]); c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[6]); c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[7]); c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            x = Vector512.Create(a[8]); c8a = Avx512F.FusedMultiplyAdd(x, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(x, b1, c8b);
            x = Vector512.Create(a[9]); c9a = Avx512F.FusedMultiplyAdd(x, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(x, b1, c9b);
            x = Vector512.Create(a[10]); c10a = Avx512F.FusedMultiplyAdd(x, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(x, b1, c10b);
            x = Vector512.Create(a[11]); c11a = Avx512F.FusedMultiplyAdd(x, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(x, b1, c11b);
            b0 = Vector512.Load(b + 32); b1 = Vector512.Load(b + 48);
            x = Vector512.Create(a[12]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[13]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[14]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[15]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[16]); c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[17]); c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[18]); c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[19]); c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            x = Vector512.Create(a[20]); c8a = Avx512F.FusedMultiplyAdd(x, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(x, b1, c8b);
            x = Vector512.Create(a[21]); c9a = Avx512F.FusedMultiplyAdd(x, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(x, b1, c9b);
            x = Vector512.Create(a[22]); c10a = Avx512F.FusedMultiplyAdd(x, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(x, b1, c10b);
            x = Vector512.Create(a[23]); c11a = Avx512F.FusedMultiplyAdd(x, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(x, b1, c11b);
            a += 24; b += 64;
        }
        if (p < kc)
        {
            b0 = Vector512.Load(b + 0); b1 = Vector512.Load(b + 16);
            x = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            x = Vector512.Create(a[4]); c4a = Avx512F.FusedMultiplyAdd(x, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(x, b1, c4b);
            x = Vector512.Create(a[5]); c5a = Avx512F.FusedMultiplyAdd(x, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(x, b1, c5b);
            x = Vector512.Create(a[6]); c6a = Avx512F.FusedMultiplyAdd(x, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(x, b1, c6b);
            x = Vector512.Create(a[7]); c7a = Avx512F.FusedMultiplyAdd(x, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(x, b1, c7b);
            x = Vector512.Create(a[8]); c8a = Avx512F.FusedMultiplyAdd(x, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(x, b1, c8b);
            x = Vector512.Create(a[9]); c9a = Avx512F.FusedMultiplyAdd(x, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(x, b1, c9b);
            x = Vector512.Create(a[10]); c10a = Avx512F.FusedMultiplyAdd(x, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(x, b1, c10b);
            x = Vector512.Create(a[11]); c11a = Avx512F.FusedMultiplyAdd(x, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(x, b1, c11b);
        }
        Store512(c + 0 * ldc, c0a, c0b, acc);
        Store512(c + 1 * ldc, c1a, c1b, acc);
        Store512(c + 2 * ldc, c2a, c2b, acc);
        Store512(c + 3 * ldc, c3a, c3b, acc);
        Store512(c + 4 * ldc, c4a, c4b, acc);
        Store512(c + 5 * ldc, c5a, c5b, acc);
        Store512(c + 6 * ldc, c6a, c6b, acc);
        Store512(c + 7 * ldc, c7a, c7b, acc);
        Store512(c + 8 * ldc, c8a, c8b, acc);
        Store512(c + 9 * ldc, c9a, c9b, acc);
        Store512(c + 10 * ldc, c10a, c10b, acc);
        Store512(c + 11 * ldc, c11a, c11b, acc);
    }

    /// <summary>The rows left below the last whole 12-row tile (m = 50 leaves 2, m = 197 leaves 5), four at a time
    /// from the same 12-row A panel (<paramref name="a"/> at the first row, <paramref name="aStride"/> = MR floats per k)
    /// rather than as a whole 12-row tile: m = 50 then computes 52 rows instead of 60. Each output is the same FMA chain
    /// over k as in <see cref="Kernel12x32"/>, so a row's result does not depend on which kernel ran it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel4x32(long kc, float* a, long aStride, float* b, float* c, long ldc, bool acc)
    {
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default,
            c3a = default, c3b = default;
        for (long p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]); c0a = Avx512F.FusedMultiplyAdd(x, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(x, b1, c0b);
            x = Vector512.Create(a[1]); c1a = Avx512F.FusedMultiplyAdd(x, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(x, b1, c1b);
            x = Vector512.Create(a[2]); c2a = Avx512F.FusedMultiplyAdd(x, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(x, b1, c2b);
            x = Vector512.Create(a[3]); c3a = Avx512F.FusedMultiplyAdd(x, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(x, b1, c3b);
            a += aStride; b += 32;
        }
        Store512(c + 0 * ldc, c0a, c0b, acc);
        Store512(c + 1 * ldc, c1a, c1b, acc);
        Store512(c + 2 * ldc, c2a, c2b, acc);
        Store512(c + 3 * ldc, c3a, c3b, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> lo, Vector512<float> hi, bool acc)
    {
        if (acc) { lo += Vector512.Load(c); hi += Vector512.Load(c + 16); }
        lo.Store(c);
        hi.Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x16(long kc, float* a, float* b, float* c, long ldc, bool acc)
    {
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default,
            c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        for (long p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
            var x0 = Vector256.Create(a[0]); c0a = Fma256(x0, b0, c0a); c0b = Fma256(x0, b1, c0b);
            var x1 = Vector256.Create(a[1]); c1a = Fma256(x1, b0, c1a); c1b = Fma256(x1, b1, c1b);
            var x2 = Vector256.Create(a[2]); c2a = Fma256(x2, b0, c2a); c2b = Fma256(x2, b1, c2b);
            var x3 = Vector256.Create(a[3]); c3a = Fma256(x3, b0, c3a); c3b = Fma256(x3, b1, c3b);
            var x4 = Vector256.Create(a[4]); c4a = Fma256(x4, b0, c4a); c4b = Fma256(x4, b1, c4b);
            var x5 = Vector256.Create(a[5]); c5a = Fma256(x5, b0, c5a); c5b = Fma256(x5, b1, c5b);
            a += 6; b += 16;
        }
        Store256(c + 0 * ldc, c0a, c0b, acc);
        Store256(c + 1 * ldc, c1a, c1b, acc);
        Store256(c + 2 * ldc, c2a, c2b, acc);
        Store256(c + 3 * ldc, c3a, c3b, acc);
        Store256(c + 4 * ldc, c4a, c4b, acc);
        Store256(c + 5 * ldc, c5a, c5b, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma256(Vector256<float> x, Vector256<float> y, Vector256<float> z) =>
        Fma.IsSupported ? Fma.MultiplyAdd(x, y, z) : x * y + z;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> lo, Vector256<float> hi, bool acc)
    {
        if (acc) { lo += Vector256.Load(c); hi += Vector256.Load(c + 8); }
        lo.Store(c);
        hi.Store(c + 8);
    }

    internal static void KernelScalar4x4(long kc, float* a, float* b, float* c, long ldc, bool acc)
    {
        float* t = stackalloc float[16];
        for (int i = 0; i < 16; i++) t[i] = 0;
        for (long p = 0; p < kc; p++, a += 4, b += 4)
            for (int i = 0; i < 4; i++)
            {
                float ai = a[i];
                t[i * 4] += ai * b[0]; t[i * 4 + 1] += ai * b[1]; t[i * 4 + 2] += ai * b[2]; t[i * 4 + 3] += ai * b[3];
            }
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                c[i * ldc + j] = acc ? c[i * ldc + j] + t[i * 4 + j] : t[i * 4 + j];
    }
}
