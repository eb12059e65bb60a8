namespace Tessera.Models.Tests.OnnxNodes;

// Softmax and friends, the normalisations and LSTM. Tessera normalises over the last axis; another axis is moved
// there (a permuted copy) or, for the flattening semantics of LayerNormalization and of Softmax before opset 13, the
// trailing axes are merged into one by a reshape.
internal static class NormOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["Softmax"] = c => [OverAxis(c, x => x.Softmax())];
        ops["LogSoftmax"] = c => [OverAxis(c, LogSoftmaxLast)];
        ops["Hardmax"] = c => [OverAxis(c, x => HardmaxLast(c, x))];
        ops["LayerNormalization"] = LayerNormalization;
        ops["BatchNormalization"] = BatchNormalization;
        ops["InstanceNormalization"] = InstanceNormalization;
        ops["MeanVarianceNormalization"] = MeanVarianceNormalization;
        ops["LSTM"] = LstmOp.Run;
    }

    // Opset 13 on: one axis (default -1). Before: the input coerced to 2-D at axis (default 1), normalised per row.
    private static Tensor OverAxis(NodeContext c, Func<Tensor, Tensor> lastAxis)
    {
        var x = c.FloatIn(0);
        if (c.Opset >= 13) return Shapes.AlongLast(x, c.Axis(c.Int("axis", -1), x.Rank), lastAxis);
        int a = c.Axis(c.Int("axis", 1), x.Rank);
        using var flat = x.Reshape(Shapes.Prod(x.Shape, 0, a), Shapes.Prod(x.Shape, a, x.Rank));
        using var y = lastAxis(flat);
        return y.Reshape([.. x.Shape.Dims]);
    }

    // x - max - log(sum(exp(x - max))): stable for large inputs, where log(softmax) would underflow.
    private static Tensor LogSoftmaxLast(Tensor x)
    {
        using var m = x.Max(-1, keepDim: true);
        using var s = x - m;
        using var e = s.Map(UnaryOp.Exp);
        using var sum = e.Sum(-1, keepDim: true);
        using var lse = sum.Map(UnaryOp.Log);
        return s - lse;
    }

    // One-hot of the first maximum: rows of an identity matrix gathered by ArgMax.
    private static Tensor HardmaxLast(NodeContext c, Tensor x)
    {
        int d = x.Shape[-1];
        var eye = new float[d * d];
        for (int i = 0; i < d; i++) eye[i * d + i] = 1;
        using var table = Tensor.FromArray(c.Backend, eye, d, d);
        using var table2 = table.To(x.DType);
        using var ids = x.ArgMax(-1);
        return table2.Gather(ids);
    }

    // Normalised over axes [axis, rank); Scale and B have those axes' shape. Mean and InvStdDev (optional outputs)
    // keep the leading axes and size-1 trailing ones.
    private static Tensor?[] LayerNormalization(NodeContext c)
    {
        var x = c.FloatIn(0);
        int a = c.Axis(c.Int("axis", -1), x.Rank);
        float eps = c.Float("epsilon", 1e-5f);
        if (c.Int("stash_type", 1) != 1) throw new NotMappedException("LayerNormalization stash_type other than float");
        int rows = Shapes.Prod(x.Shape, 0, a), cols = Shapes.Prod(x.Shape, a, x.Rank);
        var tail = new Shape(x.Shape.Dims[a..]);
        using var flat = x.Reshape(rows, cols);
        using var w = Flat(c.In(1), tail, cols);
        using var b = c.Opt(2) is { } bias ? Flat(bias, tail, cols) : null;
        using var y = flat.LayerNorm(w, b, eps);
        var outs = new Tensor?[3];
        outs[0] = y.Reshape([.. x.Shape.Dims]);
        if (c.Wants(1) || c.Wants(2))
        {
            int[] statDims = [.. x.Shape.Dims[..a], .. Enumerable.Repeat(1, x.Rank - a)];
            using var mean = flat.Mean(-1, keepDim: true);
            using var centred = flat - mean;
            using var sq = centred.Map(UnaryOp.Square);
            using var v = sq.Mean(-1, keepDim: true);
            using var ve = v.Affine(1, eps);
            using var inv = ve.Map(UnaryOp.Rsqrt);
            outs[1] = mean.Reshape(statDims);
            outs[2] = inv.Reshape(statDims);
        }
        return outs;
    }

    private static Tensor Flat(Tensor t, Shape tail, int cols)
    {
        using var full = t.BroadcastTo(tail);
        using var cont = full.Contiguous();
        return cont.Reshape(cols);
    }

    // Inference form: (x - mean) / sqrt(var + eps) * scale + B, the [C] vectors broadcast over [N, C, ...].
    private static Tensor?[] BatchNormalization(NodeContext c)
    {
        var x = c.FloatIn(0);
        float eps = c.Float("epsilon", 1e-5f);
        c.Float("momentum", 0.9f);   // only the training form reads it
        if (c.Int("training_mode", 0) != 0 || c.OutputCount > 1) throw new NotMappedException("BatchNormalization in training mode (running statistics as outputs)");
        if (c.Opset < 9 && c.Int("spatial", 1) != 1) throw new NotMappedException("BatchNormalization with spatial=0");
        int[] dims = [x.Shape[1], .. Enumerable.Repeat(1, x.Rank - 2)];
        using var scale = c.FloatIn(1).Reshape(dims);
        using var bias = c.FloatIn(2).Reshape(dims);
        using var mean = c.FloatIn(3).Reshape(dims);
        using var variance = c.FloatIn(4).Reshape(dims);
        using var ve = variance.Affine(1, eps);
        using var inv = ve.Map(UnaryOp.Rsqrt);
        using var centred = x - mean;
        using var norm = centred * inv;
        using var scaled = norm * scale;
        return [scaled + bias];
    }

    // Each (n, c) plane normalised on its own: GroupNorm with one group per channel, scale and B per channel.
    private static Tensor?[] InstanceNormalization(NodeContext c)
    {
        var x = c.FloatIn(0);
        return [x.GroupNorm(x.Shape[1], c.FloatIn(1), c.FloatIn(2), c.Float("epsilon", 1e-5f))];
    }

    // (x - E[x]) / sqrt(E[(x - E[x])^2] + 1e-9) over axes (default [0, 2, 3]), the ONNX definition's epsilon.
    private static Tensor?[] MeanVarianceNormalization(NodeContext c)
    {
        var x = c.FloatIn(0);
        int[] axes = [.. (c.Ints("axes") ?? [0, 2, 3]).Select(v => c.Axis(v, x.Rank))];
        using var mean = ReduceOps.ReduceAxes(x, ReduceOp.Mean, axes);
        using var centred = x - mean;
        using var sq = centred.Map(UnaryOp.Square);
        using var v = ReduceOps.ReduceAxes(sq, ReduceOp.Mean, axes);
        using var ve = v.Affine(1, 1e-9);
        using var sd = ve.Map(UnaryOp.Sqrt);
        return [centred / sd];
    }
}
