using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// The row driver shared by the ops that work one last-axis row at a time (norms, rope): each row of x, in any
// float dtype and stride, is loaded as a dense f32 run, handed to a kernel with a dense f32 output run, and
// stored into dst (in place when dst is contiguous f32). Rows are split over the threads.
public sealed unsafe partial class CpuBackend
{
    /// <summary>Computes one row: <paramref name="row"/> is its index in row-major order over x's leading axes.</summary>
    private delegate void RowKernel(long row, float* x, float* dst, int n);

    /// <summary>Ops on at most this many elements run on the calling thread without the row driver: a decode step's
    /// norms, rotations and cache appends are a few hundred floats, and the driver's per-call objects, row buffers and
    /// delegates cost more than the arithmetic (a hand-off to a second thread more still).</summary>
    private const long SmallRowsElements = 16384;

    /// <summary>Element offset of row <paramref name="row"/> of t, rows running over its leading axes in row-major order.</summary>
    private static long RowOffset(Tensor t, long row)
    {
        var strides = t.Strides;
        long off = 0;
        for (int i = t.Rank - 2; i >= 0 && row > 0; i--)
        {
            int dim = t.Shape[i];
            off += row % dim * strides[i];
            row /= dim;
        }
        return off;
    }

    /// <summary>An f32 tensor whose rows are contiguous (last stride 1), small enough for the direct paths.</summary>
    private static bool SmallF32Rows(Tensor t) =>
        t.DType == DType.F32 && t.Rank >= 1 && t.Strides[^1] == 1 && t.ElementCount <= SmallRowsElements;

    private void MapRows(Tensor x, Tensor dst, RowKernel kernel)
    {
        int n = x.Shape[-1];
        if (SmallF32Rows(x) && SmallF32Rows(dst))
        {
            // A decode step's rows (norms, rotations of a few heads): on this thread, in place, without row buffers or
            // a hand-off; the same kernel, so the same bits.
            float* xf = Ptr<float>(x), df = Ptr<float>(dst);
            long rows = x.ElementCount / n;
            for (long r = 0; r < rows; r++) kernel(r, xf + RowOffset(x, r), df + RowOffset(dst, r), n);
            return;
        }
        long xIn = x.Strides[^1], dIn = dst.Strides[^1];
        var idx = new StridedIndex(x.Shape, x, dst);
        byte* xb = Ptr(x), db = Ptr(dst);
        DType xt = x.DType, dt = dst.DType;
        int xes = ElementSize(xt), des = ElementSize(dt);
        bool direct = RowIo.IsDirectF32(dt, dIn);

        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 16384 / n), (r0, r1) =>
        {
            using var bx = new Scratch(n);
            using var bd = new Scratch(n);
            Span<long> off = stackalloc long[2];
            for (long r = r0; r < r1; r++)
            {
                idx.Offsets(r, off);
                float* px = RowIo.Load(xb + off[0] * xes, xt, xIn, n, bx.P);
                byte* pd = db + off[1] * des;
                float* d = direct ? (float*)pd : bd.P;
                kernel(r, px, d, n);
                if (!direct) RowIo.Store(d, pd, dt, dIn, n);
            }
        });
    }
}
