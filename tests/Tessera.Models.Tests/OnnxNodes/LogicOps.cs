namespace Tessera.Models.Tests.OnnxNodes;

// Comparisons, boolean logic and selection on Tensor.Compare (U8 masks, as ONNX's BOOL) and Tensor.Where, and what
// they compose: Not/And/Or/Xor on 0/1 masks, IsNaN (x != x), IsInf, Sign, ThresholdedRelu, and Max/Min/Clip of
// integer tensors (BinaryOp is float only; Where(a >= b, a, b) is exact for any dtype).
internal static class LogicOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        foreach (var (name, op) in new[] { ("Equal", CompareOp.Equal), ("Less", CompareOp.Less), ("LessOrEqual", CompareOp.LessOrEqual),
                     ("Greater", CompareOp.Greater), ("GreaterOrEqual", CompareOp.GreaterOrEqual) })
            ops[name] = c => [c.In(0).Compare(op, c.In(1))];
        ops["Where"] = c => [Tensor.Where(c.In(0), c.In(1), c.In(2))];
        ops["Not"] = c => { using var zero = c.Scalar(0, DType.U8); return [c.In(0).Eq(zero)]; };
        ops["And"] = c => { using var zero = c.Scalar(0, DType.U8); return [Tensor.Where(c.In(0), c.In(1), zero)]; };
        ops["Or"] = c => { using var one = c.Scalar(1, DType.U8); return [Tensor.Where(c.In(0), one, c.In(1))]; };
        ops["Xor"] = c => [c.In(0).Ne(c.In(1))];
        ops["IsNaN"] = c => [c.FloatIn(0).Ne(c.In(0))];
        ops["IsInf"] = IsInf;
        ops["Sign"] = Sign;
        ops["ThresholdedRelu"] = c =>
        {
            var x = c.FloatIn(0);
            using var alpha = c.Scalar(c.Float("alpha", 1f), x.DType);
            using var zero = c.Scalar(0, x.DType);
            using var above = x.Gt(alpha);
            return [Tensor.Where(above, x, zero)];
        };
        // Float Max/Min/Clip stay on BinaryOp (ElementwiseOps); integer ones select.
        var floatMax = ops["Max"];
        var floatMin = ops["Min"];
        var floatClip = ops["Clip"];
        ops["Max"] = c => c.In(0).DType.IsFloat() ? floatMax(c) : [Fold(c, CompareOp.GreaterOrEqual)];
        ops["Min"] = c => c.In(0).DType.IsFloat() ? floatMin(c) : [Fold(c, CompareOp.LessOrEqual)];
        ops["Clip"] = c => c.In(0).DType.IsFloat() ? floatClip(c) : [IntClip(c)];
    }

    private static Tensor Pick(Tensor a, Tensor b, CompareOp keepA)
    {
        using var m = a.Compare(keepA, b);
        return Tensor.Where(m, a, b);
    }

    private static Tensor Fold(NodeContext c, CompareOp keepA)
    {
        var acc = c.In(0).Share();
        for (int i = 1; i < c.InputCount; i++) { using var prev = acc; acc = Pick(prev, c.In(i), keepA); }
        return acc;
    }

    // Opset 11 on: optional min and max inputs; absent bounds are the dtype's limits.
    private static Tensor IntClip(NodeContext c)
    {
        var y = c.In(0).Share();
        if (c.Opt(1) is { } lo) { using var prev = y; y = Pick(prev, lo, CompareOp.GreaterOrEqual); }
        if (c.Opt(2) is { } hi) { using var prev = y; y = Pick(prev, hi, CompareOp.LessOrEqual); }
        return y;
    }

    private static Tensor?[] IsInf(NodeContext c)
    {
        var x = c.FloatIn(0);
        bool pos = c.Int("detect_positive", 1) != 0, neg = c.Int("detect_negative", 1) != 0;
        using var pinf = c.Scalar(double.PositiveInfinity, x.DType);
        using var ninf = c.Scalar(double.NegativeInfinity, x.DType);
        using var zero = c.Scalar(0, DType.U8);
        using var isPos = pos ? x.Eq(pinf) : Tensor.Zeros(c.Backend, DType.U8, x.Shape);
        using var isNeg = neg ? x.Eq(ninf) : Tensor.Zeros(c.Backend, DType.U8, x.Shape);
        using var one = c.Scalar(1, DType.U8);
        return [Tensor.Where(isPos, one, isNeg)];
    }

    // 1, -1 or 0 (NaN stays NaN: neither comparison holds, so x itself is taken when it is 0 or NaN).
    private static Tensor?[] Sign(NodeContext c)
    {
        var x = c.FloatIn(0);
        using var zero = c.Scalar(0, x.DType);
        using var one = c.Scalar(1, x.DType);
        using var minus = c.Scalar(-1, x.DType);
        using var gt = x.Gt(zero);
        using var lt = x.Lt(zero);
        using var low = Tensor.Where(lt, minus, x);
        return [Tensor.Where(gt, one, low)];
    }
}
