namespace Tessera.Models.Tests.OnnxNodes;

// The ONNX reductions over any set of axes, as one Tensor.Reduce per axis (Sum, Mean, Max, Min), composed with
// element-wise ops for L1, L2, SumSquare, LogSum and LogSumExp; ArgMax directly and ArgMin as ArgMax of -x.
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

    private static Tensor Arg(NodeContext c, bool negate)
    {
        var x = c.FloatIn(0);
        if (c.Int("select_last_index", 0) != 0) throw new NotMappedException($"{c.Node.OpType} select_last_index=1: Tessera's ArgMax picks the first");
        int axis = c.Axis(c.Int("axis", 0), x.Rank);
        bool keep = c.Int("keepdims", 1) != 0;
        using var v = negate ? x.Map(UnaryOp.Neg) : x.Share();
        return v.ArgMax(axis, keep);
    }
}
