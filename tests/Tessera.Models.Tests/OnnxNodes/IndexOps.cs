namespace Tessera.Models.Tests.OnnxNodes;

// Index-producing and mask-built operators on the new op surface: TopK, Range (Tensor.Arange), Trilu and OneHot
// (Arange compared into a mask, then Where).
internal static class IndexOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["TopK"] = TopK;
        ops["Range"] = Range;
        ops["Trilu"] = Trilu;
        ops["OneHot"] = OneHot;
        ops["EyeLike"] = EyeLike;
    }

    // Along any axis (moved last and back); indices come back as I32, compared with ONNX's I64 by value.
    private static Tensor?[] TopK(NodeContext c)
    {
        var x = c.In(0);
        int k = checked((int)(c.Opset >= 10 ? c.HostInts(1)![0] : c.Int("k", 0)));
        int axis = c.Axis(c.Int("axis", -1), x.Rank);
        bool largest = c.Int("largest", 1) != 0;
        if (c.Int("sorted", 1) == 0) throw new NotMappedException("TopK sorted=0 (any order): Tessera's TopK sorts");
        using var moved = axis == x.Rank - 1 ? x.Share() : x.Transpose(axis, -1);
        using var cont = moved.Contiguous();
        var (values, indices) = cont.TopK(k, largest);
        using (values)
        using (indices)
        {
            if (axis == x.Rank - 1) return [values.Share(), indices.Share()];
            using var v = values.Transpose(axis, -1);
            using var i = indices.Transpose(axis, -1);
            return [v.Contiguous(), i.Contiguous()];
        }
    }

    // max(ceil((limit - start) / delta), 0) values from start by delta, in the inputs' dtype.
    private static Tensor?[] Range(NodeContext c)
    {
        double start = c.HostScalar(0), limit = c.HostScalar(1), delta = c.HostScalar(2);
        int count = (int)Math.Max(Math.Ceiling((limit - start) / delta), 0);
        return [Tensor.Arange(c.Backend, start, count, delta, c.In(0).DType)];
    }

    // upper: keep column j of row i when j - i >= k; lower: when j - i <= k. The mask is cols compared with rows + k.
    private static Tensor?[] Trilu(NodeContext c)
    {
        var x = c.In(0);
        bool upper = c.Int("upper", 1) != 0;
        long k = c.HostInts(1)?[0] ?? 0;
        int n = x.Shape[-2], m = x.Shape[-1];
        using var rows = Tensor.Arange(c.Backend, k, n, 1, DType.I64);
        using var rowsK = rows.Reshape(n, 1);
        using var cols0 = Tensor.Arange(c.Backend, 0, m, 1, DType.I64);
        using var cols = cols0.Reshape(1, m);
        using var mask = cols.Compare(upper ? CompareOp.GreaterOrEqual : CompareOp.LessOrEqual, rowsK);
        using var zero = c.Scalar(0, x.DType);
        return [Tensor.Where(mask, x, zero)];
    }

    // indices (negative counts from depth) compared with arange(depth) on a new axis; values = [off, on].
    private static Tensor?[] OneHot(NodeContext c)
    {
        var indices = c.In(0);
        long depth = (long)c.HostScalar(1);
        var values = c.In(2);
        long[] ids = indices.DType.IsFloat() ? [.. indices.ToFloatArray().Select(v => (long)v)] : c.HostInts(0)!;
        for (int i = 0; i < ids.Length; i++) if (ids[i] < 0) ids[i] += depth;
        int r = indices.Rank + 1;
        int axis = c.Axis(c.Int("axis", -1), r);
        using var idsT = Tensor.FromSpan<long>(c.Backend, ids, indices.Shape);
        using var idsX = idsT.Unsqueeze(axis);
        int[] arDims = [.. Enumerable.Range(0, r).Select(i => i == axis ? (int)depth : 1)];
        using var ar0 = Tensor.Arange(c.Backend, 0, (int)depth, 1, DType.I64);
        using var ar = ar0.Reshape(arDims);
        using var mask = idsX.Eq(ar);
        using var off = values.Narrow(0, 0, 1);
        using var on = values.Narrow(0, 1, 1);
        using var off0 = off.Reshape();
        using var on0 = on.Reshape();
        return [Tensor.Where(mask, on0, off0)];
    }

    // Ones where column - row == k: an Arange compare, then Where.
    private static Tensor?[] EyeLike(NodeContext c)
    {
        var x = c.In(0);
        long k = c.Int("k", 0);
        DType dtype = c.Int("dtype", -1) switch
        {
            -1 => x.DType, 1 => DType.F32, 10 => DType.F16, 6 => DType.I32, 7 => DType.I64,
            var t => throw new NotMappedException($"EyeLike dtype {t}"),
        };
        int n = x.Shape[0], m = x.Shape[1];
        using var rows = Tensor.Arange(c.Backend, k, n, 1, DType.I64);
        using var rowsK = rows.Reshape(n, 1);
        using var cols0 = Tensor.Arange(c.Backend, 0, m, 1, DType.I64);
        using var cols = cols0.Reshape(1, m);
        using var mask = cols.Eq(rowsK);
        using var one = c.Scalar(1, dtype);
        using var zero = c.Scalar(0, dtype);
        return [Tensor.Where(mask, one, zero)];
    }
}
