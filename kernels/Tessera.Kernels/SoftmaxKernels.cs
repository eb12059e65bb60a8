using ILGPU;

namespace Tessera.Kernels;

// Softmax over the last axis of x * scale + mask. Reference: NaiveOps.Softmax (tests/Tessera.Tests/Reference) and
// CpuBackend.Softmax (src/Tessera.Cpu/CpuBackend.Softmax.cs), including its rules: a row of only -inf (fully
// masked) becomes zeros, a NaN gives a NaN row.
//
// Design: one block of 256 threads per row (rows walked with a grid-stride loop), threads striding along the
// row, so rows of any length work; the row max and the sum of exponentials are block reductions (warp
// butterflies of shuffles, then one shared slot a warp: BlockReduce). Three passes over the row (max, sum,
// write) read x again from cache rather than holding it, which keeps the kernel independent of the length.
// Rows are addressed through a StridedLayout over the leading axes plus a stride along the row, so x, the
// mask (possibly a stride-0 broadcast) and dst may be any strided views of any float dtype.
public static class SoftmaxKernels
{
    [Kernel(BlockX = 256, Reference = "NaiveOps.Softmax; CpuBackend.Softmax", Constants = ["RowsPerBlock=1"])]
    public static void Rows(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> mask, StridedLayout ml, long mIn, int hasMask,
        ArrayView<byte> dst, StridedLayout dl, long dIn, long rows, int n, float scale)
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchFloats);
        int tid = Group.IdxX, step = Group.DimX;
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long xo = xl.OffsetOf(r), mo = hasMask != 0 ? ml.OffsetOf(r) : 0, d0 = dl.OffsetOf(r);
            float max = float.NegativeInfinity;
            for (int i = tid; i < n; i += step)
                max = BlockReduce.Max(max, Logit(x, xl.DType, xo + i * xIn, mask, ml.DType, mo + i * mIn, hasMask, scale));
            max = BlockReduce.MaxOf(max, scratch);
            if (max == float.NegativeInfinity)
            {
                for (int i = tid; i < n; i += step) ElementIO.StoreF(dst, dl.DType, d0 + i * dIn, 0f);
                continue; // uniform: every thread of the block sees the same max
            }
            float sum = 0f;
            for (int i = tid; i < n; i += step)
                sum += MathF.Exp(Logit(x, xl.DType, xo + i * xIn, mask, ml.DType, mo + i * mIn, hasMask, scale) - max);
            float inv = 1f / BlockReduce.Sum(sum, scratch);
            for (int i = tid; i < n; i += step)
            {
                float e = MathF.Exp(Logit(x, xl.DType, xo + i * xIn, mask, ml.DType, mo + i * mIn, hasMask, scale) - max);
                ElementIO.StoreF(dst, dl.DType, d0 + i * dIn, e * inv);
            }
        }
    }

    private static float Logit(ArrayView<byte> x, int xdt, long xi, ArrayView<byte> mask, int mdt, long mi, int hasMask, float scale)
    {
        float z = ElementIO.LoadF(x, xdt, xi) * scale;
        return hasMask != 0 ? z + ElementIO.LoadF(mask, mdt, mi) : z;
    }
}
