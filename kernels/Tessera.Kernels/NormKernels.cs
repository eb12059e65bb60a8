using ILGPU;

namespace Tessera.Kernels;

// LayerNorm and RMSNorm over the last axis. Reference: NaiveOps.LayerNorm / NaiveOps.RmsNorm
// (tests/Tessera.Tests/Reference) and CpuBackend.Norms.cs.
//
// Design: one block of 256 threads per row (grid-stride over rows), threads striding along the row; the mean and
// then the biased variance about it (two passes, which is exact where E[x^2] - mean^2 cancels) are block sums
// (BlockReduce); a third pass normalises and applies the optional weight and bias, any float dtype and stride
// (VecArg). Rows are addressed like the softmax's: a StridedLayout over the leading axes and a row stride.
//
// GroupNorm of x [B, C, *spatial] (reference: CpuBackend.GroupNorm): the same three passes, one block per (batch,
// group), over the group's C/G channels x S spatial elements, which are one run of flat indices of x's row-major
// shape: [(b C + g C/G) S, + C/G S). A StridedLayout over x's whole shape turns a flat index into an offset, so x and
// dst may be any strided views; the weight and bias are per channel, channel = g C/G + i / S.
public static class NormKernels
{
    [Kernel(BlockX = 256, Reference = "NaiveOps.LayerNorm; CpuBackend.LayerNorm", Constants = ["RowsPerBlock=1"])]
    public static void LayerNorm(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> dst, StridedLayout dl, long dIn,
        ArrayView<byte> weight, VecArg w, ArrayView<byte> bias, VecArg b, long rows, int n, float eps) =>
        Rows(x, xl, xIn, dst, dl, dIn, weight, w, bias, b, rows, n, eps, false);

    [Kernel(BlockX = 256, Reference = "NaiveOps.RmsNorm; CpuBackend.RmsNorm", Constants = ["RowsPerBlock=1"])]
    public static void RmsNorm(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> dst, StridedLayout dl, long dIn,
        ArrayView<byte> weight, VecArg w, long rows, int n, float eps) =>
        Rows(x, xl, xIn, dst, dl, dIn, weight, w, weight, new VecArg { DType = -1 }, rows, n, eps, true);

    private static void Rows(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> dst, StridedLayout dl, long dIn,
        ArrayView<byte> weight, VecArg w, ArrayView<byte> bias, VecArg b, long rows, int n, float eps, bool rms)
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchFloats);
        int tid = Group.IdxX, step = Group.DimX;
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long xo = xl.OffsetOf(r), d0 = dl.OffsetOf(r);
            float mean = 0f;
            if (!rms)
            {
                float s = 0f;
                for (int i = tid; i < n; i += step) s += ElementIO.LoadF(x, xl.DType, xo + i * xIn);
                mean = BlockReduce.Sum(s, scratch) / n;
            }
            float q = 0f;
            for (int i = tid; i < n; i += step)
            {
                float v = ElementIO.LoadF(x, xl.DType, xo + i * xIn) - mean;
                q += v * v;
            }
            float inv = 1f / MathF.Sqrt(BlockReduce.Sum(q, scratch) / n + eps);
            for (int i = tid; i < n; i += step)
            {
                float v = (ElementIO.LoadF(x, xl.DType, xo + i * xIn) - mean) * inv;
                if (w.DType >= 0) v *= w.Load(weight, i);
                if (b.DType >= 0) v += b.Load(bias, i);
                ElementIO.StoreF(dst, dl.DType, d0 + i * dIn, v);
            }
        }
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.GroupNorm")]
    public static void GroupNorm(ArrayView<byte> x, StridedLayout xl, ArrayView<byte> dst, StridedLayout dl,
        ArrayView<byte> weight, VecArg w, ArrayView<byte> bias, VecArg b, long groupsTotal, int groups, int channelsPerGroup,
        long spatial, float eps)
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchFloats);
        int tid = Group.IdxX, step = Group.DimX;
        long n = channelsPerGroup * spatial;
        for (long bg = Grid.IdxX; bg < groupsTotal; bg += Grid.DimX)
        {
            long start = bg * n;
            int c0 = (int)(bg % groups) * channelsPerGroup;
            float s = 0f;
            for (long i = tid; i < n; i += step) s += ElementIO.LoadF(x, xl.DType, xl.OffsetOf(start + i));
            float mean = BlockReduce.Sum(s, scratch) / n;
            float q = 0f;
            for (long i = tid; i < n; i += step)
            {
                float v = ElementIO.LoadF(x, xl.DType, xl.OffsetOf(start + i)) - mean;
                q += v * v;
            }
            float inv = 1f / MathF.Sqrt(BlockReduce.Sum(q, scratch) / n + eps);
            for (long i = tid; i < n; i += step)
            {
                float v = (ElementIO.LoadF(x, xl.DType, xl.OffsetOf(start + i)) - mean) * inv;
                long c = c0 + i / spatial;
                if (w.DType >= 0) v *= w.Load(weight, c);
                if (b.DType >= 0) v += b.Load(bias, c);
                ElementIO.StoreF(dst, dl.DType, dl.OffsetOf(start + i), v);
            }
        }
    }
}
