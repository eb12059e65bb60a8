namespace Tessera.Cpu;

// Index-select along any axis of a tensor of any plain dtype and any strides: dst (contiguous) is walked one
// last-axis row at a time, and each row's source offset is x's strides applied to the row's coordinates, with the
// selected axis's coordinate replaced by its id. Elements are moved as bits, so every dtype works alike. Every id is
// checked before anything is written.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void IndexSelect(Tensor x, Tensor ids, int axis, Tensor dst)
    {
        Check(!x.DType.IsBlock() && x.Rank >= 1 && axis >= 0 && axis < x.Rank,
            $"index_select: x {x.DType.Name()} {x.Shape} needs a plain dtype and axis {axis} in [0, {x.Rank})");
        Check(ids.Rank == 1 && ids.DType is DType.I32 or DType.I64,
            $"index_select: ids must be a 1-D i32 or i64 tensor, got {ids.DType.Name()} {ids.Shape}");
        Check(dst.DType == x.DType && dst.IsContiguous && dst.Shape.Equals(x.Shape.With(axis, ids.Shape[0])),
            $"index_select: dst {dst.DType.Name()} {dst.Shape} must be contiguous {x.DType.Name()} {x.Shape.With(axis, ids.Shape[0])}");
        var rows = ReadIds("index_select", ids, x.Shape[axis], $"axis {axis} of {x.Shape}");
        if (dst.ElementCount == 0) return;

        int rank = x.Rank, last = rank - 1, n = dst.Shape[-1];
        int es = ElementSize(x.DType);
        var dims = dst.Shape.Dims.ToArray();
        var xs = x.Strides.ToArray();
        long rowCount = dst.ElementCount / n;
        byte* xb = Ptr(x), db = Ptr(dst);
        CpuParallel.For(rowCount, Threads, Math.Max(1, 16384 / n), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                // Source offset of this row: coordinates from the row index, innermost leading axis first.
                long at = 0, rest = r;
                for (int k = last - 1; k >= 0; k--)
                {
                    long c = rest % dims[k];
                    rest /= dims[k];
                    at += (k == axis ? rows[c] : c) * xs[k];
                }
                byte* src = xb + at * es, d = db + r * n * es;
                if (axis == last)
                    for (int j = 0; j < n; j++) CopyElement(src + rows[j] * xs[last] * es, d + (long)j * es, es);
                else if (xs[last] == 1)
                    Buffer.MemoryCopy(src, d, (long)n * es, (long)n * es);
                else
                    for (int j = 0; j < n; j++) CopyElement(src + j * xs[last] * es, d + (long)j * es, es);
            }
        });
    }

    private static void CopyElement(byte* s, byte* d, int es)
    {
        switch (es)
        {
            case 1: *d = *s; break;
            case 2: *(ushort*)d = *(ushort*)s; break;
            case 4: *(uint*)d = *(uint*)s; break;
            default: *(ulong*)d = *(ulong*)s; break;
        }
    }

    // The ids of a 1-D integer tensor (any stride) as longs, each checked to lie in [0, size).
    private static long[] ReadIds(string op, Tensor ids, int size, string what)
    {
        int count = ids.Shape[0];
        var result = new long[count];
        byte* p = Ptr(ids);
        long stride = ids.Strides[0];
        int es = ElementSize(ids.DType);
        for (int i = 0; i < count; i++)
        {
            long id = ReadInteger(p + i * stride * es, ids.DType);
            if ((ulong)id >= (ulong)size) throw new TesseraException($"{op}: id {id} at position {i} is out of range for {what} (size {size})");
            result[i] = id;
        }
        return result;
    }
}
