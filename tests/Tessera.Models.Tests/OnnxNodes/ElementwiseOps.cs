namespace Tessera.Models.Tests.OnnxNodes;

// Element-wise ONNX operators: Tessera's UnaryOp / BinaryOp where one exists, otherwise a composition of them (and of
// Affine) that is exact in real arithmetic, e.g. LeakyRelu(x) = relu(x) - alpha relu(-x).
internal static class ElementwiseOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        foreach (var (name, op) in new[] { ("Neg", UnaryOp.Neg), ("Abs", UnaryOp.Abs), ("Exp", UnaryOp.Exp), ("Log", UnaryOp.Log),
                     ("Sqrt", UnaryOp.Sqrt), ("Tanh", UnaryOp.Tanh), ("Sigmoid", UnaryOp.Sigmoid), ("Relu", UnaryOp.Relu),
                     ("Sin", UnaryOp.Sin), ("Cos", UnaryOp.Cos) })
            ops[name] = c => [c.FloatIn(0).Map(op)];
        foreach (var (name, op) in new[] { ("Add", BinaryOp.Add), ("Sub", BinaryOp.Sub), ("Mul", BinaryOp.Mul), ("Div", BinaryOp.Div) })
            ops[name] = c => [c.FloatIn(0).Zip(op, c.FloatIn(1))];
        ops["Max"] = c => [Fold(c, BinaryOp.Max)];
        ops["Min"] = c => [Fold(c, BinaryOp.Min)];
        ops["Sum"] = c => [Fold(c, BinaryOp.Add)];
        ops["Mean"] = c => { using var s = Fold(c, BinaryOp.Add); return [s.Affine(1.0 / c.InputCount)]; };
        ops["Reciprocal"] = c => { using var one = c.Scalar(1, c.FloatIn(0).DType); return [one.Zip(BinaryOp.Div, c.In(0))]; };
        ops["HardSwish"] = c => [c.FloatIn(0).HardSwish()];
        ops["HardSigmoid"] = HardSigmoid;
        ops["LeakyRelu"] = c => [NegativeSlope(c.FloatIn(0), c.Float("alpha", 0.01f))];
        ops["PRelu"] = PRelu;
        ops["Elu"] = c => [Elu(c, c.FloatIn(0), c.Float("alpha", 1f))];
        ops["Selu"] = Selu;
        ops["Celu"] = Celu;
        ops["Softplus"] = c => { using var e = c.FloatIn(0).Map(UnaryOp.Exp); using var e1 = e.Affine(1, 1); return [e1.Map(UnaryOp.Log)]; };
        ops["Softsign"] = c =>
        {
            var x = c.FloatIn(0);
            using var a = x.Map(UnaryOp.Abs);
            using var d = a.Affine(1, 1);
            return [x / d];
        };
        ops["Clip"] = Clip;
        ops["Tan"] = c => { using var s = c.FloatIn(0).Map(UnaryOp.Sin); using var k = c.In(0).Map(UnaryOp.Cos); return [s / k]; };
        ops["Sinh"] = c => [Hyperbolic(c.FloatIn(0), -1)];
        ops["Cosh"] = c => [Hyperbolic(c.FloatIn(0), 1)];
        ops["Shrink"] = Shrink;
        ops["Pow"] = Pow;
        ops["Identity"] = c => [c.In(0).Share()];
    }

    // Max, Min, Sum, Mean take any number of operands, broadcast together.
    private static Tensor Fold(NodeContext c, BinaryOp op)
    {
        var acc = c.FloatIn(0).Share();
        for (int i = 1; i < c.InputCount; i++)
        {
            using var prev = acc;
            acc = prev.Zip(op, c.FloatIn(i));
        }
        return acc;
    }

    // max(0, min(1, alpha x + beta)): Tessera's HardSigmoid fixes alpha = 1/6, beta = 1/2, so compose with Affine.
    private static Tensor?[] HardSigmoid(NodeContext c)
    {
        var x = c.FloatIn(0);
        float alpha = c.Float("alpha", 0.2f), beta = c.Float("beta", 0.5f);
        using var y = x.Affine(alpha, beta);
        using var r = y.Map(UnaryOp.Relu);
        using var one = c.Scalar(1, x.DType);
        return [r.Zip(BinaryOp.Min, one)];
    }

    // relu(x) - alpha relu(-x): x where x >= 0, alpha x below.
    private static Tensor NegativeSlope(Tensor x, float alpha)
    {
        using var pos = x.Map(UnaryOp.Relu);
        using var nx = x.Map(UnaryOp.Neg);
        using var neg = nx.Map(UnaryOp.Relu);
        using var scaled = neg.Affine(-alpha);
        return pos + scaled;
    }

    private static Tensor?[] PRelu(NodeContext c)
    {
        var x = c.FloatIn(0);
        using var pos = x.Map(UnaryOp.Relu);
        using var nx = x.Map(UnaryOp.Neg);
        using var neg = nx.Map(UnaryOp.Relu);
        using var scaled = neg * c.FloatIn(1);   // the slope broadcasts to x (unidirectionally, as ONNX requires)
        return [pos - scaled];
    }

    // x for x > 0, alpha (e^x - 1) otherwise = relu(x) + alpha (e^min(x, 0) - 1), min(x, 0) = -relu(-x).
    private static Tensor Elu(NodeContext c, Tensor x, float alpha)
    {
        using var pos = x.Map(UnaryOp.Relu);
        using var nx = x.Map(UnaryOp.Neg);
        using var rn = nx.Map(UnaryOp.Relu);
        using var mn = rn.Map(UnaryOp.Neg);
        using var e = mn.Map(UnaryOp.Exp);
        using var tail = e.Affine(alpha, -alpha);
        return pos + tail;
    }

    private static Tensor?[] Selu(NodeContext c)
    {
        float alpha = c.Float("alpha", 1.67326319217681884765625f), gamma = c.Float("gamma", 1.05070102214813232421875f);
        using var e = Elu(c, c.FloatIn(0), alpha);
        return [e.Affine(gamma)];
    }

    // max(0, x) + min(0, alpha (e^(x / alpha) - 1)) = alpha * elu_1(x / alpha).
    private static Tensor?[] Celu(NodeContext c)
    {
        float alpha = c.Float("alpha", 1f);
        using var xs = c.FloatIn(0).Affine(1.0 / alpha);
        using var e = Elu(c, xs, 1f);
        return [e.Affine(alpha)];
    }

    // Opset 11 moved min and max from attributes to optional scalar inputs.
    private static Tensor?[] Clip(NodeContext c)
    {
        var x = c.FloatIn(0);
        Tensor? lo = null, hi = null;
        try
        {
            if (c.Opset < 11)
            {
                if (c.Has("min")) lo = c.Scalar(c.Float("min", float.MinValue), x.DType);
                if (c.Has("max")) hi = c.Scalar(c.Float("max", float.MaxValue), x.DType);
            }
            else { lo = c.Opt(1)?.Share(); hi = c.Opt(2)?.Share(); }
            var y = x.Share();
            if (lo is not null) { using var prev = y; y = prev.Zip(BinaryOp.Max, lo); }
            if (hi is not null) { using var prev = y; y = prev.Zip(BinaryOp.Min, hi); }
            return [y];
        }
        finally { lo?.Dispose(); hi?.Dispose(); }
    }

    // A whole exponent up to 8 (a scalar, read on the host) is repeated multiplication, exact for any base; otherwise
    // exp(y ln x), which is Pow only where every base is positive (checked on the host).
    private static Tensor?[] Pow(NodeContext c)
    {
        var x = c.FloatIn(0);
        var y = c.In(1);
        if (y.ElementCount == 1 && y.ToFloatArray()[0] is var e && e == MathF.Round(e) && Math.Abs(e) <= 8)
        {
            var acc = Tensor.Full(c.Backend, x.DType, x.Shape, 1);
            for (int i = 0; i < Math.Abs(e); i++) { using var prev = acc; acc = prev * x; }
            using var shaped = acc;
            using var full = shaped.BroadcastTo(Tessera.Shape.Broadcast(x.Shape, y.Shape));
            var r = full.Contiguous();
            if (e >= 0) return [r];
            using (r) { using var one = c.Scalar(1, x.DType); return [one / r]; }
        }
        if (x.ToFloatArray().Any(v => !(v > 0))) throw new NotMappedException("Pow with a non-whole exponent and a base that is not positive: Tessera has no pow op (exp(y ln x) needs x > 0)");
        c.Tolerance = 1e-6;   // exp and ln round separately
        using var ln = x.Map(UnaryOp.Log);
        using var y2 = y.To(x.DType);   // an integer exponent converts exactly (ONNX allows mixed types)
        using var p = ln * y2;
        return [p.Map(UnaryOp.Exp)];
    }

    // (e^x + sign e^-x) / 2: cosh for sign 1, sinh for -1.
    private static Tensor Hyperbolic(Tensor x, int sign)
    {
        using var e = x.Map(UnaryOp.Exp);
        using var nx = x.Map(UnaryOp.Neg);
        using var en = nx.Map(UnaryOp.Exp);
        using var ens = en.Affine(sign);
        using var sum = e + ens;
        return sum.Affine(0.5);
    }

    // x + bias below -lambd, x - bias above lambd, 0 between.
    private static Tensor?[] Shrink(NodeContext c)
    {
        var x = c.FloatIn(0);
        float lambd = c.Float("lambd", 0.5f), bias = c.Float("bias", 0f);
        using var lo = c.Scalar(-lambd, x.DType);
        using var hi = c.Scalar(lambd, x.DType);
        using var zero = c.Scalar(0, x.DType);
        using var below = x.Lt(lo);
        using var above = x.Gt(hi);
        using var up = x.Affine(1, bias);
        using var down = x.Affine(1, -bias);
        using var inner = Tensor.Where(above, down, zero);
        return [Tensor.Where(below, up, inner)];
    }
}
