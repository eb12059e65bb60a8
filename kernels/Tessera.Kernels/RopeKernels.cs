using ILGPU;

namespace Tessera.Kernels;

// Rotary position embedding of x [..., S, D] with cos, sin [..., S, R/2] (the tables' leading axes broadcast to x's:
// [S, R/2] for one sequence, [B, 1, S, R/2] for a batch of sequences at different positions). Reference:
// NaiveOps.Rope (tests/Tessera.Tests/Reference) and CpuBackend.Rope.cs. Rotate-half pairs channel i with i + R/2,
// interleaved pairs 2i with 2i + 1; each pair (a, b) becomes (a cos - b sin, b cos + a sin); channels R..D pass
// through.
//
// Design: one block per row (grid-stride over rows), threads striding over the R/2 pairs and then over the
// pass-through channels. Every operand's row is found through a StridedLayout over x's leading axes (the host
// broadcasts the tables to them as stride-0 views), plus a stride along the row, so any strides and any table
// batch work. No shared memory or barriers: each pair is read and written by one thread, so x and dst may alias.
public static class RopeKernels
{
    public const int RotateHalf = 0, Interleaved = 1;

    [Kernel(BlockX = 128, Reference = "NaiveOps.Rope; CpuBackend.Rope")]
    public static void Rows(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> dst, StridedLayout dl, long dIn,
        ArrayView<byte> cos, StridedLayout cl, long cIn, ArrayView<byte> sin, StridedLayout sl, long sIn,
        long rows, int d, int half, int mode)
    {
        int tid = Group.IdxX, step = Group.DimX;
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long xo = xl.OffsetOf(r), d0 = dl.OffsetOf(r), co = cl.OffsetOf(r), so = sl.OffsetOf(r);
            for (int i = tid; i < half; i += step)
            {
                int ia = mode == RotateHalf ? i : 2 * i, ib = mode == RotateHalf ? i + half : 2 * i + 1;
                float a = ElementIO.LoadF(x, xl.DType, xo + ia * xIn), b = ElementIO.LoadF(x, xl.DType, xo + ib * xIn);
                float cv = ElementIO.LoadF(cos, cl.DType, co + i * cIn), sv = ElementIO.LoadF(sin, sl.DType, so + i * sIn);
                ElementIO.StoreF(dst, dl.DType, d0 + ia * dIn, a * cv - b * sv);
                ElementIO.StoreF(dst, dl.DType, d0 + ib * dIn, b * cv + a * sv);
            }
            for (int i = 2 * half + tid; i < d; i += step)
                ElementIO.StoreF(dst, dl.DType, d0 + i * dIn, ElementIO.LoadF(x, xl.DType, xo + i * xIn));
        }
    }
}
