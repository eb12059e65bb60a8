namespace Tessera.Cuda;

// Comparing and picking: Compare and Where (CompareKernels, element-wise over StridedLayouts), IndexSelect along any
// axis (GatherKernels.IndexSelect) and TopK along the last axis (TopKKernels: a bitonic sort in shared memory for
// rows of at most TopKKernels.MaxSort; for longer rows k selection passes when k is small, else the bitonic network
// in global memory).
public sealed unsafe partial class CudaBackend
{
    /// <summary>The longest row TopKKernels.Sort holds in shared memory, and the largest k that TopKKernels.Select
    /// takes on longer rows: the kernels' manifest constants.</summary>
    private static readonly Lazy<(int MaxSort, int SelectMaxK)> TopKLimits = new(() =>
        (ManifestConstant("TopKKernels.Sort", "MaxSort"), ManifestConstant("TopKKernels.GlobalStep", "SelectMaxK")));

    private static int ManifestConstant(string kernel, string name)
    {
        var k = KernelCatalog.Find(kernel);
        var c = k.Constants.FirstOrDefault(c => c.StartsWith(name + "=", StringComparison.Ordinal))
            ?? throw new TesseraException($"cuda: kernel {k.Name} has no {name} constant in the manifest");
        return int.Parse(c[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public void Compare(CompareOp op, Tensor a, Tensor b, Tensor dst)
    {
        Require(a.Shape.Equals(dst.Shape) && b.Shape.Equals(dst.Shape) && a.DType == b.DType && !a.DType.IsBlock() && dst.DType == DType.U8,
            $"compare {op}: a {a.DType.Name()} {a.Shape} and b {b.DType.Name()} {b.Shape} must share a plain dtype and dst's shape, dst {dst.DType.Name()} {dst.Shape} u8");
        long n = dst.ElementCount;
        if (n == 0) return;
        var l = StridedLayoutArg.For($"compare {op}", dst.Shape, a, b, dst);
        RunElements("CompareKernels.Compare", n, WholeView(a), KernelArg.Struct(l[0]), WholeView(b), KernelArg.Struct(l[1]),
            WholeView(dst), KernelArg.Struct(l[2]), KernelArg.Scalar(n), KernelArg.Scalar((int)op));
    }

    /// <inheritdoc/>
    public void Where(Tensor condition, Tensor a, Tensor b, Tensor dst)
    {
        Require(condition.DType == DType.U8 && a.DType == dst.DType && b.DType == dst.DType && !dst.DType.IsBlock()
                && condition.Shape.Equals(dst.Shape) && a.Shape.Equals(dst.Shape) && b.Shape.Equals(dst.Shape),
            $"where: condition {condition.DType.Name()} {condition.Shape} must be u8, a {a.DType.Name()} {a.Shape} and b {b.DType.Name()} {b.Shape} of dst's dtype, all of dst's shape {dst.DType.Name()} {dst.Shape}");
        long n = dst.ElementCount;
        if (n == 0) return;
        var l = StridedLayoutArg.For("where", dst.Shape, condition, a, b, dst);
        RunElements("CompareKernels.Where", n, WholeView(condition), KernelArg.Struct(l[0]), WholeView(a), KernelArg.Struct(l[1]),
            WholeView(b), KernelArg.Struct(l[2]), WholeView(dst), KernelArg.Struct(l[3]), KernelArg.Scalar(n));
    }

    /// <inheritdoc/>
    /// <remarks>The ids live on the device and are not checked there (that would cost a synchronisation): an id
    /// outside [0, size) is clamped into range, so no read leaves x.</remarks>
    public void IndexSelect(Tensor x, Tensor ids, int axis, Tensor dst)
    {
        Require(!x.DType.IsBlock() && x.Rank >= 1 && axis >= 0 && axis < x.Rank,
            $"index_select: x {x.DType.Name()} {x.Shape} needs a plain dtype and axis {axis} in [0, {x.Rank})");
        Require(ids.Rank == 1 && ids.DType is DType.I32 or DType.I64,
            $"index_select: ids must be a 1-D i32 or i64 tensor, got {ids.DType.Name()} {ids.Shape}");
        int count = ids.Shape[0], len = x.Shape[axis];
        Require(dst.DType == x.DType && dst.IsContiguous && dst.Shape.Equals(x.Shape.With(axis, count)),
            $"index_select: dst {dst.DType.Name()} {dst.Shape} must be contiguous {x.DType.Name()} {x.Shape.With(axis, count)}");
        long n = dst.ElementCount;
        if (n == 0) return;
        Require(len > 0, $"index_select: {count} ids into the empty axis {axis} of {x.Shape}");
        long inner = 1;
        for (int i = axis + 1; i < x.Rank; i++) inner *= x.Shape[i];
        // x seen in dst's shape with stride 0 along the axis: each dst element's x[.., 0, ..].
        using var first = x.Narrow(axis, 0, 1);
        using var spread = first.BroadcastTo(dst.Shape);
        var l = StridedLayoutArg.For("index_select", dst.Shape, spread);
        RunElements("GatherKernels.IndexSelect", n, WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[axis]),
            KernelArg.Scalar((long)len), WholeView(ids), KernelArg.Scalar(ids.Offset), KernelArg.Scalar(ids.Strides[0]),
            KernelArg.Scalar((int)ids.DType), KernelArg.Scalar((long)count), KernelArg.Scalar(inner), WholeView(dst),
            KernelArg.Scalar(dst.Offset), KernelArg.Scalar(n));
    }

    /// <inheritdoc/>
    /// <remarks>Rows of any plain dtype and any strides. Rows of at most 2048 are sorted in shared memory, one block
    /// a row; longer rows take k selection passes when k &lt;= 16 (sampling), else a bitonic sort in a scratch buffer
    /// of rows x n (rounded up to a power of two) pairs, one launch per step over every row at once.</remarks>
    public void TopK(Tensor x, int k, bool largest, Tensor values, Tensor indices)
    {
        Require(x.Rank >= 1 && !x.DType.IsBlock() && k >= 0 && k <= x.Shape[-1],
            $"top_k: x {x.DType.Name()} {x.Shape} needs rank >= 1, a plain dtype and k = {k} in [0, {(x.Rank >= 1 ? x.Shape[-1] : 0)}]");
        var shape = x.Shape.With(-1, k);
        Require(values.DType == x.DType && values.IsContiguous && values.Shape.Equals(shape)
                && indices.DType == DType.I32 && indices.IsContiguous && indices.Shape.Equals(shape),
            $"top_k: values {values.DType.Name()} {values.Shape} and indices {indices.DType.Name()} {indices.Shape} must be contiguous {x.DType.Name()} and i32 {shape}");
        int n = x.Shape[-1];
        long rows = x.ElementCount / Math.Max(n, 1);
        if (k == 0 || rows == 0 || n == 0) return;
        var l = RowLayouts("top_k", x, values);
        var (maxSort, selectMaxK) = TopKLimits.Value;
        var xArgs = (ReadOnlySpan<KernelArg>)[WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[^1])];
        var outArgs = (ReadOnlySpan<KernelArg>)[WholeView(values), KernelArg.Struct(l[1]), KernelArg.Scalar(values.Strides[^1]),
            ViewAt(indices, indices.ElementCount), KernelArg.Scalar(0L), KernelArg.Scalar(rows)];
        if (n <= maxSort || k <= selectMaxK || n > 1 << 30)
        {
            RunBlocks(n <= maxSort ? "TopKKernels.Sort" : "TopKKernels.Select", rows, [.. xArgs, .. outArgs,
                KernelArg.Scalar(n), KernelArg.Scalar(k), KernelArg.Scalar(largest ? 1 : 0)]);
            return;
        }
        // A long row and a large k (an argsort): the bitonic network in a scratch buffer, one launch per step.
        int p2 = 1;
        while (p2 < n) p2 *= 2;
        long pairs = rows * p2;
        Require(pairs <= int.MaxValue, $"top_k: x {x.Shape} with k = {k} needs a sort buffer of {rows} x {p2} pairs, more than one allocation holds; sort fewer rows at a time");
        using var keys = Tensor.Empty(this, DType.I64, new Shape((int)pairs)); // the kernels' ulong sort keys
        using var idx = Tensor.Empty(this, DType.I32, new Shape((int)pairs));
        var keyView = ViewAt(keys, pairs);
        var idxView = ViewAt(idx, pairs);
        RunElements("TopKKernels.GlobalInit", pairs, [.. xArgs, keyView, idxView, KernelArg.Scalar(rows), KernelArg.Scalar(n), KernelArg.Scalar(p2)]);
        for (int span = 2; span <= p2; span *= 2)
            for (int half = span / 2; half > 0; half /= 2)
                RunElements("TopKKernels.GlobalStep", pairs / 2, keyView, idxView, KernelArg.Scalar(rows), KernelArg.Scalar(n),
                    KernelArg.Scalar(p2), KernelArg.Scalar(span), KernelArg.Scalar(half), KernelArg.Scalar(largest ? 1 : 0));
        RunElements("TopKKernels.GlobalWrite", rows * k, [.. xArgs, idxView, .. outArgs, KernelArg.Scalar(p2), KernelArg.Scalar(k)]);
    }
}
