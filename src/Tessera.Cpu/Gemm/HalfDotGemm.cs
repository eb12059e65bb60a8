using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Gemm;

/// <summary><see cref="DotGemm"/> for an f16 or bf16 weight W [n, k] read in place (a 16-bit linear layer, memory-mapped):
/// each group of 4 weight rows is widened to f32 into a per-thread scratch (exact) and then runs DotGemm's own tiles, so
/// the result is bit for bit what DotGemm gives on the f32-widened weight, row i of C does not depend on m (batch
/// invariance), and a decode step reads each 16-bit weight once instead of packing the whole matrix.</summary>
internal static unsafe class HalfDotGemm
{
    [ThreadStatic] private static float[]? t_rows;

    /// <summary>Whether this kernel takes the operands: f32 A with contiguous rows, an f16/bf16 W with contiguous rows.</summary>
    public static bool Applies(in GemmOperand a, in GemmOperand b) =>
        Vector512.IsHardwareAccelerated && a.Type == DType.F32 && b.Type is DType.F16 or DType.BF16 && a.ColStride == 1 && b.RowStride == 1
        && b.ColStride <= int.MaxValue;

    public static void Run(int m, int n, int k, in GemmOperand a, in GemmOperand b, float* c, long ldc, in GemmEpilogue ep, int threads)
    {
        float* ap = (float*)a.Ptr;
        byte* wp = (byte*)b.Ptr;
        long lda = a.RowStride, ldw = b.ColStride;
        bool bf16 = b.Type == DType.BF16;
        int nItems = (n + DotGemm.ColBlock - 1) / DotGemm.ColBlock, mItems = (m + DotGemm.RowBlock - 1) / DotGemm.RowBlock;
        var e = ep;
        int t = (long)m * n * k < 1 << 16 ? 1 : threads;
        CpuParallel.For((long)nItems * mItems, t, 1, (s, end) =>
        {
            var rows = t_rows is { } r && r.Length >= 4 * k ? r : t_rows = new float[4 * Math.Max(k, 16)];
            fixed (float* w = rows)
                for (long item = s; item < end; item++)
                {
                    int j0 = (int)(item / mItems) * DotGemm.ColBlock, j1 = Math.Min(n, j0 + DotGemm.ColBlock);
                    int i0 = (int)(item % mItems) * DotGemm.RowBlock, i1 = Math.Min(m, i0 + DotGemm.RowBlock);
                    for (int j = j0; j < j1; j += 4)
                    {
                        int count = Math.Min(4, j1 - j);
                        for (int q = 0; q < count; q++) Widen(wp + (j + q) * ldw * 2, w + q * k, k, bf16);
                        DotGemm.Block(ap, lda, w, k, k, i0, i1, 0, count, c + j, ldc);
                    }
                    if (GemmEpilogueOps.Any(e)) GemmEpilogueOps.Apply(c + i0 * ldc + j0, ldc, i1 - i0, j1 - j0, i0, j0, e);
                }
        });
    }

    private static void Widen(byte* src, float* dst, int k, bool bf16)
    {
        if (bf16) Bf16.ToF32((ushort*)src, dst, k);
        else TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(src, k), new Span<float>(dst, k));
    }
}
