namespace Tessera.Cuda;

// Embedding gather (GatherKernels) and reductions over one axis (ReduceKernels).
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    /// <remarks>The ids live on the device, so they are checked there: an id outside the table is clamped and
    /// flagged, and this method waits for the launch and throws naming the first bad id it saw. dst then holds
    /// the clamped rows (unlike the CPU backend, which checks before writing).</remarks>
    public void Gather(Tensor table, Tensor ids, Tensor dst)
    {
        Require(table.Rank == 2, $"gather: the table must be [V, D], got {table.Shape}");
        Require(ids.DType is DType.I32 or DType.I64, $"gather: ids must be i32 or i64, got {ids.DType.Name()} {ids.Shape}");
        int v = table.Shape[0], dim = table.Shape[1];
        Require(dst.DType == table.DType && dst.IsContiguous && dst.ElementCount == ids.ElementCount * dim,
            $"gather: dst {dst.DType.Name()} {dst.Shape} does not fit ids {ids.Shape} of a {table.DType.Name()} table {table.Shape}");
        long count = ids.ElementCount;
        if (count == 0 || dim == 0) return;
        bool block = table.DType.IsBlock();
        Require(!block || (dim % table.DType.BlockSize() == 0 && table.Strides[1] == 1),
            $"gather: a {table.DType.Name()} table {table.Shape} needs contiguous rows of whole blocks");
        // Block rows are copied as bytes: sizes, offsets and strides in bytes, element size 1.
        DType t = table.DType;
        int size = block ? 1 : (int)t.ByteCount(1);
        long tOffset = block ? t.ByteCount(table.Offset) : table.Offset;
        long rowStride = block ? t.ByteCount(table.Strides[0]) : table.Strides[0];
        long colStride = block ? 1 : table.Strides[1];
        int d = block ? checked((int)t.ByteCount(dim)) : dim;
        long dOffset = block ? t.ByteCount(dst.Offset) : dst.Offset;
        var il = StridedLayoutArg.For("gather", ids.Shape, ids);
        using var error = Tensor.Zeros(this, DType.I64, new Shape(2));
        RunBlocks("GatherKernels.Rows", count, WholeView(table), KernelArg.Scalar(tOffset), KernelArg.Scalar(rowStride),
            KernelArg.Scalar(colStride), KernelArg.Scalar(size), KernelArg.Scalar((long)v), KernelArg.Scalar(d),
            WholeView(ids), KernelArg.Struct(il[0]), KernelArg.Scalar(count), WholeView(dst), KernelArg.Scalar(dOffset),
            ViewAt(error, 2));
        var flag = error.ToArray<long>(); // waits for the launch
        if (flag[0] != 0)
            throw new TesseraException($"gather: id {flag[1]} at flat position {flag[0] - 1} of ids {ids.Shape} is out of range for a table of {v} rows {table.Shape}");
    }

    /// <inheritdoc/>
    public void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst)
    {
        Require(axis >= 0 && axis < x.Rank && dst.Shape.Equals(x.Shape.With(axis, 1)) && dst.IsContiguous,
            $"reduce {op}: dst {dst.Shape} must be x {x.Shape} with axis {axis} set to 1");
        Require(IsPlainFloat(x.DType) && (op == ReduceOp.ArgMax ? dst.DType == DType.I32 : IsPlainFloat(dst.DType)),
            $"reduce {op}: x {x.DType.Name()} {x.Shape} into {dst.DType.Name()} is not supported (float input; i32 output for argmax)");
        if (dst.ElementCount == 0) return;
        int len = x.Shape[axis];
        Require(len > 0 || op is ReduceOp.Sum or ReduceOp.Mean, $"reduce {op} over the empty axis {axis} of {x.Shape}");
        if (len == 0) { Fill(dst, op == ReduceOp.Sum ? 0 : double.NaN); return; }
        long inner = 1;
        for (int i = axis + 1; i < x.Rank; i++) inner *= x.Shape[i];
        using var first = x.Narrow(axis, 0, 1); // each output's first input element, in dst's shape
        var l = StridedLayoutArg.For($"reduce {op}", dst.Shape, first, dst);
        long outputs = dst.ElementCount;
        var args = (ReadOnlySpan<KernelArg>)[WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[axis]),
            WholeView(dst), KernelArg.Struct(l[1]), KernelArg.Scalar(outputs), KernelArg.Scalar(len), KernelArg.Scalar((int)op)];
        if (inner == 1) RunBlocks("ReduceKernels.Rows", outputs, args);
        else RunBlocks("ReduceKernels.Columns", (outputs + 255) / 256, args);
    }
}
