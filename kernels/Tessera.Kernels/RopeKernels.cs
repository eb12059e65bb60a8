using ILGPU;

namespace Tessera.Kernels;

// Rotary position embedding of x [..., S, D] with cos, sin [S, R/2]. Reference: NaiveOps.Rope
// (tests/Tessera.Tests/Reference) and CpuBackend.Rope.cs. Rotate-half pairs channel i with i + R/2, interleaved
// pairs 2i with 2i + 1; each pair (a, b) becomes (a cos - b sin, b cos + a sin); channels R..D pass through.
//
// Design: one block per row (grid-stride over rows; a row's position is its index modulo S, since S is the
// innermost leading axis), threads striding over the R/2 pairs and then over the pass-through channels. No
// shared memory or barriers: each pair is read and written by one thread, so x and dst may even alias.
public static class RopeKernels
{
    public const int RotateHalf = 0, Interleaved = 1;

    [Kernel(BlockX = 128, Reference = "NaiveOps.Rope; CpuBackend.Rope")]
    public static void Rows(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> dst, StridedLayout dl, long dIn,
        ArrayView<byte> cos, VecArg c, ArrayView<byte> sin, VecArg s, long rows, int seq, int d, int half, int mode)
    {
        int tid = Group.IdxX, step = Group.DimX;
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long xo = xl.OffsetOf(r), d0 = dl.OffsetOf(r);
            long pos = r % seq;
            for (int i = tid; i < half; i += step)
            {
                int ia = mode == RotateHalf ? i : 2 * i, ib = mode == RotateHalf ? i + half : 2 * i + 1;
                float a = ElementIO.LoadF(x, xl.DType, xo + ia * xIn), b = ElementIO.LoadF(x, xl.DType, xo + ib * xIn);
                float cv = c.Load(cos, pos, i), sv = s.Load(sin, pos, i);
                ElementIO.StoreF(dst, dl.DType, d0 + ia * dIn, a * cv - b * sv);
                ElementIO.StoreF(dst, dl.DType, d0 + ib * dIn, b * cv + a * sv);
            }
            for (int i = 2 * half + tid; i < d; i += step)
                ElementIO.StoreF(dst, dl.DType, d0 + i * dIn, ElementIO.LoadF(x, xl.DType, xo + i * xIn));
        }
    }
}
