using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Gemm;

/// <summary>C (m x n) = epilogue(A (m x k) @ W^T) for an f32 weight W [n, k] read in place (rows contiguous along k,
/// as GGUF and safetensors store a linear layer): dot products, tinyBLAS-style, in tiles of 4 activation rows x 4
/// weight rows (16 accumulators, 8 loads per 16 FMAs). Nothing is packed, so a memory-mapped weight costs no copy.
/// Every output element is computed the same way whatever the tile or m: one 16-lane accumulator over k in steps of
/// 16 from 0, a fixed horizontal sum, then the k % 16 tail in order. So row i of C does not depend on how many rows
/// the call has (batch invariance: a sequence decoded in a batch gets the logits it gets alone). Decode (m = 1) and
/// small batches stream the weight one row at a time instead of in tiles (<see cref="Rows"/>).</summary>
internal static unsafe class DotGemm
{
    /// <summary>Weight rows per work item (one thread's share is whole items).</summary>
    internal const int ColBlock = 64;

    /// <summary>Activation rows per work item: 32 rows of k = 5632 (720 KB) stay in L2 while the item's weight rows
    /// pass over them.</summary>
    internal const int RowBlock = 32;

    /// <summary>Whether this kernel takes the operands: f32, A rows contiguous, W columns (of B = W^T) contiguous.</summary>
    public static bool Applies(in GemmOperand a, in GemmOperand b) =>
        Vector512.IsHardwareAccelerated && a.Type == DType.F32 && b.Type == DType.F32 && a.ColStride == 1 && b.RowStride == 1;

    public static void Run(int m, int n, int k, in GemmOperand a, in GemmOperand b, float* c, long ldc, in GemmEpilogue ep, int threads)
    {
        float* ap = (float*)a.Ptr, wp = (float*)b.Ptr;
        long lda = a.RowStride, ldw = b.ColStride;
        int nItems = (n + ColBlock - 1) / ColBlock, mItems = (m + RowBlock - 1) / RowBlock;
        var e = ep;
        // Decode-sized work stays on the calling thread: a hand-off costs more than it saves.
        int t = (long)m * n * k < 1 << 16 ? 1 : threads;
        CpuParallel.For((long)nItems * mItems, t, 1, (s, end) =>
        {
            for (long item = s; item < end; item++)
            {
                int j0 = (int)(item / mItems) * ColBlock, j1 = Math.Min(n, j0 + ColBlock);
                int i0 = (int)(item % mItems) * RowBlock, i1 = Math.Min(m, i0 + RowBlock);
                Block(ap, lda, wp, ldw, k, i0, i1, j0, j1, c, ldc);
                if (GemmEpilogueOps.Any(e)) GemmEpilogueOps.Apply(c + i0 * ldc + j0, ldc, i1 - i0, j1 - j0, i0, j0, e);
            }
        });
    }

    /// <summary>Most activation rows that take the weight-row-at-a-time path (<see cref="Rows"/>) instead of 4 x 4 tiles.</summary>
    private const int StreamRows = 4;

    /// <summary>C[i0..i1, j0..j1] (C at column 0 of the call's C) of A's rows against W's rows; also HalfDotGemm's, on
    /// widened rows.</summary>
    internal static void Block(float* a, long lda, float* w, long ldw, int k, int i0, int i1, int j0, int j1, float* c, long ldc)
    {
        if (i1 - i0 <= StreamRows) { Rows(a, lda, w, ldw, k, i0, i1, j0, j1, c, ldc); return; }
        int j = j0;
        for (; j + 4 <= j1; j += 4)
        {
            int i = i0;
            for (; i + 4 <= i1; i += 4) Tile4x4(a + i * lda, lda, w + j * ldw, ldw, k, c + i * ldc + j, ldc);
            for (; i < i1; i++) Tile1x4(a + i * lda, w + j * ldw, ldw, k, c + i * ldc + j);
        }
        for (; j < j1; j++)
            for (int i = i0; i < i1; i++) c[i * ldc + j] = Dot(a + i * lda, w + j * ldw, k);
    }

    /// <summary>Decode and small batches: one weight row at a time against every activation row, so the weights are read
    /// as one sequential stream (a row of k = 768 is 3 KB; the next row follows it in memory). Four weight rows at a time
    /// (<see cref="Tile1x4"/>) read four streams 3 KB apart that restart every tile, which the hardware prefetchers
    /// follow badly: on the Zen 4 dev machine (1 thread, 48 distinct 768 x 768 weights) m = 1 read 15 GB/s that way and
    /// 31 GB/s this way, m = 2 13 vs 26, m = 4 13 vs 20; from m = 8 the tiles' fewer loads per FMA win (10 vs 8.5).
    /// Software prefetch (256 B to 4 KB ahead, T0 or NTA, per row or linear) measured within noise of none: left out.</summary>
    private static void Rows(float* a, long lda, float* w, long ldw, int k, int i0, int i1, int j0, int j1, float* c, long ldc)
    {
        for (int j = j0; j < j1; j++)
        {
            float* wj = w + j * ldw;
            int i = i0;
            for (; i + 4 <= i1; i += 4) Tile4x1(a + i * lda, lda, wj, k, c + i * ldc + j, ldc);
            for (; i < i1; i++) c[i * ldc + j] = Dot(a + i * lda, wj, k);
        }
    }

    /// <summary>Four activation rows against one weight row (read once from memory, the other rows from L1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(float* a, long lda, float* w, int k, float* c, long ldc)
    {
        float* a0 = a, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var v = Vector512.Load(w + p);
            s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a0 + p), v, s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a1 + p), v, s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.Load(a2 + p), v, s2);
            s3 = Vector512.FusedMultiplyAdd(Vector512.Load(a3 + p), v, s3);
        }
        c[0] = Finish(s0, a0, w, p, k);
        c[ldc] = Finish(s1, a1, w, p, k);
        c[2 * ldc] = Finish(s2, a2, w, p, k);
        c[3 * ldc] = Finish(s3, a3, w, p, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(float* a, long lda, float* w, long ldw, int k, float* c, long ldc)
    {
        float* a0 = a, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        float* w0 = w, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var v0 = Vector512.Load(w0 + p); var v1 = Vector512.Load(w1 + p); var v2 = Vector512.Load(w2 + p); var v3 = Vector512.Load(w3 + p);
            var x = Vector512.Load(a0 + p);
            s00 = Vector512.FusedMultiplyAdd(x, v0, s00); s01 = Vector512.FusedMultiplyAdd(x, v1, s01);
            s02 = Vector512.FusedMultiplyAdd(x, v2, s02); s03 = Vector512.FusedMultiplyAdd(x, v3, s03);
            x = Vector512.Load(a1 + p);
            s10 = Vector512.FusedMultiplyAdd(x, v0, s10); s11 = Vector512.FusedMultiplyAdd(x, v1, s11);
            s12 = Vector512.FusedMultiplyAdd(x, v2, s12); s13 = Vector512.FusedMultiplyAdd(x, v3, s13);
            x = Vector512.Load(a2 + p);
            s20 = Vector512.FusedMultiplyAdd(x, v0, s20); s21 = Vector512.FusedMultiplyAdd(x, v1, s21);
            s22 = Vector512.FusedMultiplyAdd(x, v2, s22); s23 = Vector512.FusedMultiplyAdd(x, v3, s23);
            x = Vector512.Load(a3 + p);
            s30 = Vector512.FusedMultiplyAdd(x, v0, s30); s31 = Vector512.FusedMultiplyAdd(x, v1, s31);
            s32 = Vector512.FusedMultiplyAdd(x, v2, s32); s33 = Vector512.FusedMultiplyAdd(x, v3, s33);
        }
        Store4(s00, s01, s02, s03, a0, w, ldw, p, k, c);
        Store4(s10, s11, s12, s13, a1, w, ldw, p, k, c + ldc);
        Store4(s20, s21, s22, s23, a2, w, ldw, p, k, c + 2 * ldc);
        Store4(s30, s31, s32, s33, a3, w, ldw, p, k, c + 3 * ldc);
    }

    /// <summary>One activation row against 4 weight rows: the rows left over by 4 x 4 tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4(float* a, float* w, long ldw, int k, float* c)
    {
        float* w0 = w, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var x = Vector512.Load(a + p);
            s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(w0 + p), s0);
            s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(w1 + p), s1);
            s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(w2 + p), s2);
            s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(w3 + p), s3);
        }
        Store4(s0, s1, s2, s3, a, w, ldw, p, k, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* a, float* w, int k)
    {
        Vector512<float> s = default;
        int p = 0;
        for (; p + 16 <= k; p += 16) s = Vector512.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(w + p), s);
        return Finish(s, a, w, p, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3, float* a, float* w, long ldw, int p, int k, float* c)
    {
        c[0] = Finish(s0, a, w, p, k);
        c[1] = Finish(s1, a, w + ldw, p, k);
        c[2] = Finish(s2, a, w + 2 * ldw, p, k);
        c[3] = Finish(s3, a, w + 3 * ldw, p, k);
    }

    /// <summary>The horizontal sum, then the k % 16 tail in order: the same for every output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(Vector512<float> s, float* a, float* w, int p, int k)
    {
        float d = Vector512.Sum(s);
        for (; p < k; p++) d = MathF.FusedMultiplyAdd(a[p], w[p], d);
        return d;
    }
}
