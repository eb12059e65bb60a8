using System.Runtime.Intrinsics;
using Tessera.Cpu.Gemm;

namespace Tessera.Cpu.Quant;

/// <summary>A row kernel of one block format: dot products of one stored weight row with TR.N activation rows.</summary>
internal unsafe interface IRowKernel
{
    static abstract ActKind Act { get; }
    static abstract void Dot<TR>(byte* w, int blocks, QuantizedRows xq, int r0, float* dst, long dstRowStride) where TR : struct, IRows;
}

internal unsafe struct Q8_0Kernel : IRowKernel
{
    public static ActKind Act => ActKind.Block32;
    public static void Dot<TR>(byte* w, int b, QuantizedRows x, int r0, float* d, long s) where TR : struct, IRows => QBlockKernels.DotRows<Q8_0Block, TR>(w, b, x, r0, d, s);
}

internal unsafe struct Q4_0Kernel : IRowKernel
{
    public static ActKind Act => ActKind.Block32;
    public static void Dot<TR>(byte* w, int b, QuantizedRows x, int r0, float* d, long s) where TR : struct, IRows => QBlockKernels.DotRows<Q4_0Block, TR>(w, b, x, r0, d, s);
}

internal unsafe struct Q4_1Kernel : IRowKernel
{
    public static ActKind Act => ActKind.Block32;
    public static void Dot<TR>(byte* w, int b, QuantizedRows x, int r0, float* d, long s) where TR : struct, IRows => QBlockKernels.DotRows<Q4_1Block, TR>(w, b, x, r0, d, s);
}

internal unsafe struct Q4_KKernel : IRowKernel
{
    public static ActKind Act => ActKind.Block256;
    public static void Dot<TR>(byte* w, int b, QuantizedRows x, int r0, float* d, long s) where TR : struct, IRows => KQuantKernels.DotQ4K<TR>(w, b, x, r0, d, s);
}

internal unsafe struct Q6_KKernel : IRowKernel
{
    public static ActKind Act => ActKind.Block256;
    public static void Dot<TR>(byte* w, int b, QuantizedRows x, int r0, float* d, long s) where TR : struct, IRows => KQuantKernels.DotQ6K<TR>(w, b, x, r0, d, s);
}

/// <summary>The drivers of the quantized matmul: activation quantization, the work split over threads, and the
/// epilogue on each finished output tile. x is a contiguous f32 [M, K], dst a contiguous f32 [M, N].</summary>
internal static unsafe class QuantRunner
{
    /// <summary>Output columns of one work item of the block formats: 64 weight rows (about 150 KB of Q4_0 at
    /// K = 4096) stay in L2 while every 4-row tile of activations passes over them.</summary>
    private const int ColBlock = 64, RowGroup = 64;

    /// <summary>Block formats: each stored weight row is dotted with 4 activation rows at a time (so a GEMM reads each
    /// weight block once per 4 rows), or with one (decode: the weights stream once, threads split N).</summary>
    public static void RunBlocks<TK>(float* x, int m, int k, byte* w, long rowBytes, int blockSize, int n, float* dst, in GemmEpilogue ep, int threads)
        where TK : struct, IRowKernel
    {
        using var xq = new QuantizedRows(TK.Act, m, k);
        QuantizeRows(xq, x, m, k, threads);
        int blocks = k / blockSize;
        int nBlocks = (n + ColBlock - 1) / ColBlock, mGroups = (m + RowGroup - 1) / RowGroup;
        var e = ep;
        CpuParallel.For((long)nBlocks * mGroups, threads, 1, (s, end) =>
        {
            for (long item = s; item < end; item++)
            {
                int j0 = (int)(item / mGroups) * ColBlock, j1 = Math.Min(n, j0 + ColBlock);
                int i0 = (int)(item % mGroups) * RowGroup, i1 = Math.Min(m, i0 + RowGroup);
                int r = i0;
                for (; r + 4 <= i1; r += 4)
                    for (int j = j0; j < j1; j++) TK.Dot<Rows4>(w + j * rowBytes, blocks, xq, r, dst + (long)r * n + j, n);
                for (; r < i1; r++)
                    for (int j = j0; j < j1; j++) TK.Dot<Rows1>(w + j * rowBytes, blocks, xq, r, dst + (long)r * n + j, n);
                if (GemmEpilogueOps.Any(e)) GemmEpilogueOps.Apply(dst + (long)i0 * n + j0, n, i1 - i0, j1 - j0, i0, j0, e);
            }
        });
    }

    /// <summary>Q8_0/Q4_0 weights read in place by the AVX-512BW kernels (<see cref="Q32Kernels512"/>). Decode rows
    /// (fewer than 4 left in a group) dot 4 weight rows at a time, sharing each activation load; GEMM rows go 8 (then
    /// 4) activation rows per weight row, each weight pair unpacked once for all of them. Both give every output the same arithmetic (batch invariance).</summary>
    public static void RunQ32<TB>(float* x, int m, int k, byte* w, long rowBytes, int n, float* dst, in GemmEpilogue ep, int threads)
        where TB : struct, IQ32Pair
    {
        using var xq = new QuantizedRows(ActKind.Block32, m, k, pairs: true);
        QuantizeRows(xq, x, m, k, threads);
        int blocks = k / 32;
        int nBlocks = (n + ColBlock - 1) / ColBlock, mGroups = (m + RowGroup - 1) / RowGroup;
        var e = ep;
        CpuParallel.For((long)nBlocks * mGroups, threads, 1, (s, end) =>
        {
            for (long item = s; item < end; item++)
            {
                int j0 = (int)(item / mGroups) * ColBlock, j1 = Math.Min(n, j0 + ColBlock);
                int i0 = (int)(item % mGroups) * RowGroup, i1 = Math.Min(m, i0 + RowGroup);
                int r = i0;
                for (; r + 8 <= i1; r += 8)
                    for (int j = j0; j < j1; j++) Q32Kernels512.Rows<TB, Rows8>(w + j * rowBytes, blocks, j == n - 1, xq, r, dst + (long)r * n + j, n);
                for (; r + 4 <= i1; r += 4)
                    for (int j = j0; j < j1; j++) Q32Kernels512.Rows<TB, Rows4>(w + j * rowBytes, blocks, j == n - 1, xq, r, dst + (long)r * n + j, n);
                for (; r < i1; r++)
                {
                    int j = j0;
                    for (; j + 4 <= j1; j += 4) Q32Kernels512.Cols4<TB>(w + j * rowBytes, rowBytes, blocks, j + 3 == n - 1, xq, r, dst + (long)r * n + j);
                    for (; j < j1; j++) Q32Kernels512.Rows<TB, Rows1>(w + j * rowBytes, blocks, j == n - 1, xq, r, dst + (long)r * n + j, n);
                }
                if (GemmEpilogueOps.Any(e)) GemmEpilogueOps.Apply(dst + (long)i0 * n + j0, n, i1 - i0, j1 - j0, i0, j0, e);
            }
        });
    }

    /// <summary>Int8 weights [N, K] with per-row scales. GEMM shapes (M &gt;= 4) run the 4 x 24 VNNI tile on the packed
    /// weight; decode shapes dot the stored rows directly.</summary>
    public static void RunInt8(float* x, int m, int k, sbyte* w, Func<PackedI8>? packed, float* scales, int n, float* dst, in GemmEpilogue ep, int threads)
    {
        var e = ep;
        if (m < Int8Kernels.MR || packed is null)
        {
            using var xq = new QuantizedRows(ActKind.Row, m, k);
            QuantizeRows(xq, x, m, k, threads);
            CpuParallel.For(n, threads, 16, (s, end) =>
            {
                for (int j = (int)s; j < end; j++)
                    for (int r = 0; r < m; r++)
                        dst[(long)r * n + j] = Int8Kernels.RowDot(w + (long)j * k, xq.Row(r), k, xq.QSum[r]) * (xq.D[r] * scales[j]);
                if (GemmEpilogueOps.Any(e)) GemmEpilogueOps.Apply(dst + s, n, m, (int)(end - s), 0, s, e);
            });
            return;
        }
        var pw = packed();
        using var xp = new QuantizedRows(ActKind.Row, m, k, padRowsTo: Int8Kernels.MR, offset128: true);
        QuantizeRows(xp, x, m, k, threads);
        int mTiles = xp.Rows / Int8Kernels.MR, panels = pw.Panels;
        CpuParallel.For((long)panels * mTiles, threads, 4, (s, end) =>
        {
            int* acc = stackalloc int[Int8Kernels.MR * PackedI8.NR];
            for (long item = s; item < end; item++)
            {
                int p = (int)(item / mTiles), t = (int)(item % mTiles);
                int i0 = t * Int8Kernels.MR, j0 = p * PackedI8.NR;
                int rows = Math.Min(Int8Kernels.MR, m - i0), cols = Math.Min(PackedI8.NR, n - j0);
                Int8Kernels.Tile(pw.Panel(p), pw.K4, (byte*)xp.Row(i0), xp.Stride, acc);
                for (int r = 0; r < rows; r++)
                    StoreRow(acc + r * PackedI8.NR, pw.Corr + j0, xp.D[i0 + r], scales + j0, dst + (long)(i0 + r) * n + j0, cols);
                if (GemmEpilogueOps.Any(e)) GemmEpilogueOps.Apply(dst + (long)i0 * n + j0, n, rows, cols, i0, j0, e);
            }
        });
    }

    /// <summary>dst[j] = (acc[j] - corr[j]) * sx * sw[j] for one row of a finished tile.</summary>
    private static void StoreRow(int* acc, int* corr, float sx, float* sw, float* dst, int cols)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vsx = Vector256.Create(sx);
            for (; j + 8 <= cols; j += 8)
                (Vector256.ConvertToSingle(Vector256.Load(acc + j) - Vector256.Load(corr + j)) * vsx * Vector256.Load(sw + j)).Store(dst + j);
        }
        for (; j < cols; j++) dst[j] = (acc[j] - corr[j]) * sx * sw[j];
    }

    private static void QuantizeRows(QuantizedRows xq, float* x, int m, int k, int threads) =>
        CpuParallel.For(m, threads, Math.Max(1, 16384 / Math.Max(k, 1)), (s, e) => xq.Quantize(x, (int)s, (int)e));
}
