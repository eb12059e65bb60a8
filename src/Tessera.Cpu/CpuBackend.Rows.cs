using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// The row driver shared by the ops that work one last-axis row at a time (norms, rope): each row of x, in any
// float dtype and stride, is loaded as a dense f32 run, handed to a kernel with a dense f32 output run, and
// stored into dst (in place when dst is contiguous f32). Rows are split over the threads.
public sealed unsafe partial class CpuBackend
{
    /// <summary>Computes one row: <paramref name="row"/> is its index in row-major order over x's leading axes.</summary>
    private delegate void RowKernel(long row, float* x, float* dst, int n);

    private void MapRows(Tensor x, Tensor dst, RowKernel kernel)
    {
        int n = x.Shape[-1];
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
