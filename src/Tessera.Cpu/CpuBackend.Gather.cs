namespace Tessera.Cpu;

// Embedding lookup: rows of a [V, D] table copied bytewise, so any dtype works (f32, f16, bf16, int8, and
// the block formats when D is a whole number of blocks and rows are contiguous). Every id is checked
// before anything is written.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Gather(Tensor table, Tensor ids, Tensor dst)
    {
        Check(table.Rank == 2, $"gather: the table must be [V, D], got {table.Shape}");
        Check(ids.DType is DType.I32 or DType.I64, $"gather: ids must be i32 or i64, got {ids.DType.Name()} {ids.Shape}");
        int v = table.Shape[0], dim = table.Shape[1];
        Check(dst.DType == table.DType && dst.IsContiguous && dst.ElementCount == ids.ElementCount * dim,
            $"gather: dst {dst.DType.Name()} {dst.Shape} does not fit ids {ids.Shape} of a {table.DType.Name()} table {table.Shape}");
        long count = ids.ElementCount;
        if (count == 0 || dim == 0) return;
        bool block = table.DType.IsBlock();
        Check(!block || (dim % table.DType.BlockSize() == 0 && table.Strides[1] == 1),
            $"gather: a {table.DType.Name()} table {table.Shape} needs contiguous rows of whole blocks");

        // Flatten and check the ids first: an error must leave dst untouched.
        var rows = new long[count];
        int n = ids.Rank == 0 ? 1 : ids.Shape[-1];
        long inner = ids.Rank == 0 ? 1 : ids.Strides[^1];
        var idx = new StridedIndex(ids.Shape, ids);
        byte* ib = Ptr(ids);
        Span<long> off = stackalloc long[1];
        long at = 0;
        for (long r = 0; r < idx.Rows; r++)
        {
            idx.Offsets(r, off);
            for (int i = 0; i < n; i++, at++)
            {
                long e = off[0] + i * inner;
                long id = ids.DType == DType.I32 ? ((int*)ib)[e] : ((long*)ib)[e];
                if ((ulong)id >= (ulong)v)
                    throw new TesseraException($"gather: id {id} at position {Position(ids.Shape, at)} is out of range for a table of {v} rows {table.Shape}");
                rows[at] = id;
            }
        }

        byte* tb = Ptr(table), db = Ptr(dst);
        long rowStride = table.Strides[0], colStride = table.Strides[1];
        long rowBytes = table.DType.ByteCount(dim);
        // Block rows are addressed in bytes from the (block-aligned) row stride in elements.
        long strideBytes = block ? table.DType.ByteCount(rowStride) : rowStride * ElementSize(table.DType);
        bool contiguousRows = colStride == 1;
        int es = block ? 0 : ElementSize(table.DType);
        CpuParallel.For(count, Threads, Math.Max(1, 65536 / rowBytes), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                byte* src = tb + rows[r] * strideBytes, d = db + r * rowBytes;
                if (contiguousRows) Buffer.MemoryCopy(src, d, rowBytes, rowBytes);
                else
                    for (int j = 0; j < dim; j++)
                        Buffer.MemoryCopy(src + j * colStride * es, d + (long)j * es, es, es);
            }
        });
    }

    // "[i, j, k]" of a flat row-major index, for error messages.
    private static string Position(Shape shape, long flat)
    {
        var p = new long[shape.Rank];
        for (int i = shape.Rank - 1; i >= 0; i--) { p[i] = flat % shape[i]; flat /= shape[i]; }
        return "[" + string.Join(", ", p) + "]";
    }
}
