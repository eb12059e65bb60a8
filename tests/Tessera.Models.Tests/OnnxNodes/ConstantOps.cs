namespace Tessera.Models.Tests.OnnxNodes;

// Operators that make tensors from attributes or from shapes: Constant (its tensor is read by OnnxFile, as the runner
// loads it; the scalar and list forms are built here), Shape, Size, ConstantOfShape, and the inference forms of
// Dropout. Shapes are I64 tensors, as in ONNX.
internal static class ConstantOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["Constant"] = Constant;
        ops["Shape"] = Shape;
        ops["Size"] = c => [Tensor.FromSpan<long>(c.Backend, [c.In(0).ElementCount], new Shape())];
        ops["ConstantOfShape"] = ConstantOfShape;
        ops["Dropout"] = Dropout;
    }

    private static Tensor?[] Constant(NodeContext c)
    {
        if (c.Has("value")) return [null];   // a TensorProto: the runner loaded it through OnnxFile under the output's name
        if (c.Has("value_float")) return [c.Scalar(c.Float("value_float", 0))];
        if (c.Has("value_int")) return [Tensor.FromSpan<long>(c.Backend, [c.Int("value_int", 0)], new Shape())];
        if (c.Ints("value_ints") is { } ints) return [Tensor.FromArray(c.Backend, ints, ints.Length)];
        if (c.Has("value_floats")) { var f = c.Node.Attributes["value_floats"].Floats.ToArray(); return [Tensor.FromArray(c.Backend, f, f.Length)]; }
        throw new NotMappedException($"Constant with attribute {string.Join(", ", c.Node.Attributes.Keys)}");
    }

    // Opset 15 added start and end (Python-style, clamped).
    private static Tensor?[] Shape(NodeContext c)
    {
        var x = c.In(0);
        int r = x.Rank;
        int Clamp(long v) => (int)Math.Clamp(v < 0 ? v + r : v, 0, r);
        int start = Clamp(c.Int("start", 0)), end = Clamp(c.Int("end", r));
        long[] dims = [.. x.Shape.Dims[start..Math.Max(start, end)].ToArray().Select(d => (long)d)];
        return [Tensor.FromArray(c.Backend, dims, dims.Length)];
    }

    private static Tensor?[] ConstantOfShape(NodeContext c)
    {
        if (c.Has("value")) throw new NotMappedException("ConstantOfShape's value: OnnxGraph does not read tensor-valued attributes");
        int[] dims = [.. c.HostInts(0)!.Select(d => checked((int)d))];
        return [Tensor.Zeros(c.Backend, DType.F32, new Shape(dims))];
    }

    // Outside training Dropout is the identity and its mask all true.
    private static Tensor?[] Dropout(NodeContext c)
    {
        c.Int("seed", 0);
        c.Float("ratio", 0.5f);
        if (c.Opt(2) is { } training && training.ToArray<byte>()[0] != 0) throw new NotMappedException("Dropout in training mode (random masks)");
        if (c.Opset < 7 && c.Int("is_test", 0) == 0) throw new NotMappedException("Dropout in training mode (is_test = 0)");
        var x = c.In(0);
        return [x.Share(), c.Wants(1) ? Tensor.Full(c.Backend, DType.U8, x.Shape, 1) : null];
    }
}
