namespace Tessera.Models.Tests.OnnxNodes;

// The ONNX reductions over any set of axes, as one Tensor.Reduce per axis (Sum, Mean, Max, Min), composed with
// element-wise ops for L1, L2, SumSquare, LogSum and LogSumExp; ArgMax directly and ArgMin as ArgMax of -x; CumSum
// as a matmul with a 0/1 triangular matrix built from Arange and Compare.
internal static class ReduceOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["ReduceSum"] = c => [Reduce(c, ReduceOp.Sum, null, null)];
        ops["ReduceMean"] = c => [Reduce(c, ReduceOp.Mean, null, null)];
        ops["ReduceMax"] = c => [Reduce(c, ReduceOp.Max, null, null)];
        ops["ReduceMin"] = c => [Reduce(c, ReduceOp.Min, null, null)];
        ops["ReduceL1"] = c => [Reduce(c, ReduceOp.Sum, UnaryOp.Abs, null)];
        ops["ReduceL2"] = c => [Reduce(c, ReduceOp.Sum, UnaryOp.Square, UnaryOp.Sqrt)];
        ops["ReduceSumSquare"] = c => [Reduce(c, ReduceOp.Sum, UnaryOp.Square, null)];
        ops["ReduceLogSum"] = c => [Reduce(c, ReduceOp.Sum, null, UnaryOp.Log)];
        ops["ReduceLogSumExp"] = c => [Reduce(c, ReduceOp.Sum, UnaryOp.Exp, UnaryOp.Log)];
        ops["ReduceProd"] = _ => throw new NotMappedException("ReduceProd: Tessera's ReduceOp has no product");
        ops["ArgMax"] = c => [Arg(c, negate: false)];
        ops["ArgMin"] = c => [Arg(c, negate: true)];
        ops["CumSum"] = CumSum;
    }

    /// <summary>Reduces each of <paramref name="axes"/> in turn, keeping them as size 1.</summary>
    public static Tensor ReduceAxes(Tensor x, ReduceOp op, IEnumerable<int> axes)
    {
        var y = x.Share();
        foreach (int a in axes.Distinct().OrderDescending())
        {
            using var prev = y;
            y = prev.Reduce(op, a, keepDim: true);
        }
        return y;
    }

    // pre(x) reduced, then post(); LogSumExp subtracts the maximum first so that exp cannot overflow.
    private static Tensor Reduce(NodeContext c, ReduceOp op, UnaryOp? pre, UnaryOp? post)
    {
        var x = c.FloatIn(0);
        bool keep = c.Int("keepdims", 1) != 0;
        bool noop = c.Int("noop_with_empty_axes", 0) != 0;
        // ReduceSum took its axes as an input from opset 13 (the others from opset 18).
        long[]? given = c.Node.OpType == "ReduceSum" && c.Opset >= 13 ? c.HostInts(1) : c.Ints("axes");
        if (given is null || given.Length == 0)
        {
            if (noop) return x.Share();
            given = [.. Enumerable.Range(0, x.Rank).Select(i => (long)i)];
        }
        int[] axes = [.. given.Select(a => c.Axis(a, x.Rank))];
        using var shift = pre == UnaryOp.Exp ? ReduceAxes(x, ReduceOp.Max, axes) : null;
        using var shifted = shift is null ? x.Share() : x - shift;
        using var mapped = pre is { } p ? shifted.Map(p) : shifted.Share();
        using var r = ReduceAxes(mapped, op, axes);
        using var posted = post is { } q ? r.Map(q) : r.Share();
        using var y = shift is null ? posted.Share() : posted + shift;
        if (keep) return y.Share();
        var result = y.Share();
        foreach (int a in axes.Distinct().OrderDescending())
        {
            using var prev = result;
            result = prev.Squeeze(a);
        }
        return result;
    }

    // select_last_index: the first extreme of the reversed axis (an IndexSelect with descending ids) is the last one
    // of the original, at n - 1 - i (computed in f32, exact for any index an axis can have here).
    private static Tensor Arg(NodeContext c, bool negate)
    {
        var x = c.FloatIn(0);
        int axis = c.Axis(c.Int("axis", 0), x.Rank);
        bool keep = c.Int("keepdims", 1) != 0;
        bool last = c.Int("select_last_index", 0) != 0;
        using var v = negate ? x.Map(UnaryOp.Neg) : x.Share();
        if (!last) return v.ArgMax(axis, keep);
        int n = x.Shape[axis];
        using var reversed = Tensor.FromArray(c.Backend, Enumerable.Range(0, n).Reverse().ToArray(), n);
        using var flipped = v.IndexSelect(axis, reversed);
        using var i = flipped.ArgMax(axis, keep);
        using var f = i.To(DType.F32);
        using var back = f.Affine(-1, n - 1);
        return back.To(DType.I32);
    }

    // y[..., j] = sum over i of x[..., i] m[i, j], m[i, j] = 1 when i <= j (i < j exclusive; >= and > reversed).
    private static Tensor?[] CumSum(NodeContext c)
    {
        var x = c.FloatIn(0);
        int axis = c.Axis(c.HostInts(1)![0], x.Rank);
        bool exclusive = c.Int("exclusive", 0) != 0, reverse = c.Int("reverse", 0) != 0;
        int n = x.Shape[axis];
        using var i0 = Tensor.Arange(c.Backend, 0, n, 1, DType.I32);
        using var rows = i0.Reshape(n, 1);
        using var cols = i0.Reshape(1, n);
        var op = (exclusive, reverse) switch
        {
            (false, false) => CompareOp.LessOrEqual,
            (true, false) => CompareOp.Less,
            (false, true) => CompareOp.GreaterOrEqual,
            (true, true) => CompareOp.Greater,
        };
        using var mask = rows.Compare(op, cols);
        using var one = c.Scalar(1, x.DType);
        using var zero = c.Scalar(0, x.DType);
        using var m = Tensor.Where(mask, one, zero);
        return [Shapes.AlongLast(x, axis, t =>
        {
            if (t.Rank > 1) return t.MatMul(m);
            using var row = t.Unsqueeze(0);   // matmul needs a matrix on the left
            using var y = row.MatMul(m);
            return y.Squeeze(0);
        })];
    }
}
