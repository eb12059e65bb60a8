using ILGPU;

namespace Tessera.Kernels;

// Embedding gather: dst[i, :] = table[ids[i], :] for a [V, D] table and i32/i64 ids of any shape and strides.
// Reference: NaiveOps.Gather (tests/Tessera.Tests/Reference) and CpuBackend.Gather.cs. And its generalisation to any
// axis, IndexSelect: dst[.., j, ..] = x[.., ids[j], ..] (reference: CpuBackend.IndexSelect).
//
// Design: one block per id (grid-stride over ids), threads striding along the row and copying raw elements of
// the table's element size (1, 2, 4 or 8 bytes), so every plain dtype works without conversion; a block-format
// table (Q8_0 ...) is copied as a row of bytes (the host passes size 1 and byte strides). An id outside [0, V)
// cannot throw on the device: it is clamped (so no read leaves the table) and reported in the error flag
// [position + 1, id], first writer wins; the host reads the flag after the launch and throws naming the id.
public static class GatherKernels
{
    [Kernel(BlockX = 128, Reference = "NaiveOps.Gather; CpuBackend.Gather")]
    public static void Rows(ArrayView<byte> table, long tOffset, long tRowStride, long tColStride, int size, long v, int d,
        ArrayView<byte> ids, StridedLayout il, long count, ArrayView<byte> dst, long dOffset, ArrayView<long> error)
    {
        int tid = Group.IdxX, step = Group.DimX;
        for (long p = Grid.IdxX; p < count; p += Grid.DimX)
        {
            long at = il.OffsetOf(p);
            long id = il.DType == ElementCodes.I64 ? ids.Cast<long>()[at] : ids.Cast<int>()[at];
            if (id < 0 || id >= v)
            {
                if (tid == 0 && Atomic.CompareExchange(ref error[0], 0L, p + 1) == 0L) error[1] = id;
                id = id < 0 ? 0 : v - 1;
            }
            long src = tOffset + id * tRowStride, to = dOffset + p * d;
            for (int j = tid; j < d; j += step) ElementIO.CopyRaw(table, src + j * tColStride, dst, to + j, size);
        }
    }

    /// <summary>dst (contiguous, x's shape with the axis replaced by <paramref name="count"/> ids) from x (any plain
    /// dtype, any strides). <paramref name="xl"/> is x seen in dst's shape with stride 0 along the axis, so it gives
    /// the offset of x[.., 0, ..] for each dst element; the id of dst element i is ids[(i / inner) % count], and
    /// the element is read <paramref name="axisStride"/> * id further. One thread an element (grid-stride), raw
    /// element copies. An id outside [0, len) is clamped to the nearest row, so no read leaves x (the front end
    /// documents it: on the device there is no one to throw to without waiting for the stream).</summary>
    [Kernel(BlockX = 256, Reference = "CpuBackend.IndexSelect")]
    public static void IndexSelect(ArrayView<byte> x, StridedLayout xl, long axisStride, long len,
        ArrayView<byte> ids, long idOffset, long idStride, int idType, long count, long inner,
        ArrayView<byte> dst, long dOffset, long n)
    {
        int size = ElementIO.SizeOf(xl.DType);
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += (long)Grid.DimX * Group.DimX)
        {
            long j = i / inner % count, at = idOffset + j * idStride;
            long id = idType == ElementCodes.I64 ? ids.Cast<long>()[at] : ids.Cast<int>()[at];
            id = id < 0 ? 0 : id >= len ? len - 1 : id;
            ElementIO.CopyRaw(x, xl.OffsetOf(i) + id * axisStride, dst, dOffset + i, size);
        }
    }
}
