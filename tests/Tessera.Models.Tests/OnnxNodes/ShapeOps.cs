namespace Tessera.Models.Tests.OnnxNodes;

// Operators that move data without arithmetic: Tessera's views (Permute, Reshape, Narrow, Slice, Unsqueeze,
// BroadcastTo) made contiguous, Concat, Gather, and Cast as Tensor.To.
internal static class ShapeOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["Transpose"] = Transpose;
        ops["Reshape"] = Reshape;
        ops["Flatten"] = Flatten;
        ops["Squeeze"] = Squeeze;
        ops["Unsqueeze"] = Unsqueeze;
        ops["Concat"] = c => [Tensor.Concat((int)c.Int("axis", 0), [.. Enumerable.Range(0, c.InputCount).Select(c.In)])];
        ops["Split"] = Split;
        ops["Slice"] = Slice;
        ops["Gather"] = Gather;
        ops["Expand"] = Expand;
        ops["Tile"] = Tile;
        ops["DepthToSpace"] = DepthToSpace;
        ops["SpaceToDepth"] = SpaceToDepth;
        ops["Cast"] = Cast;
        ops["CastLike"] = CastLike;
    }

    private static Tensor Dense(Tensor view) { using (view) return view.Contiguous(); }

    private static Tensor?[] Transpose(NodeContext c)
    {
        var x = c.In(0);
        int[] perm = c.Ints("perm") is { } p ? [.. p.Select(v => (int)v)] : [.. Enumerable.Range(0, x.Rank).Reverse()];
        return [Dense(x.Permute(perm))];
    }

    // 0 copies the input's dimension (unless allowzero), -1 is inferred.
    private static Tensor?[] Reshape(NodeContext c)
    {
        var x = c.In(0);
        long[] shape = c.HostInts(1) ?? throw new InvalidDataException("Reshape without a shape");
        bool allowZero = c.Int("allowzero", 0) != 0;
        int[] dims = [.. shape.Select((d, i) => d == 0 && !allowZero ? x.Shape[i] : checked((int)d))];
        return [x.Reshape(dims)];
    }

    private static Tensor?[] Flatten(NodeContext c)
    {
        var x = c.In(0);
        long axis = c.Int("axis", 1);
        int a = axis == x.Rank ? x.Rank : c.Axis(axis, x.Rank);
        return [x.Reshape(Shapes.Prod(x.Shape, 0, a), Shapes.Prod(x.Shape, a, x.Rank))];
    }

    // Axes moved from an attribute to an input in opset 13.
    private static long[]? Axes(NodeContext c, int input) => c.Opset >= 13 ? c.HostInts(input) : c.Ints("axes");

    private static Tensor?[] Squeeze(NodeContext c)
    {
        var x = c.In(0);
        int[] axes = Axes(c, 1) is { } a ? [.. a.Select(v => c.Axis(v, x.Rank))] : [.. Enumerable.Range(0, x.Rank).Where(i => x.Shape[i] == 1)];
        var y = x.Share();
        foreach (int i in axes.Distinct().OrderDescending())
        {
            using var prev = y;
            y = prev.Squeeze(i);
        }
        return [y];
    }

    private static Tensor?[] Unsqueeze(NodeContext c)
    {
        var x = c.In(0);
        long[] given = Axes(c, 1) ?? throw new InvalidDataException("Unsqueeze without axes");
        int rank = x.Rank + given.Length;
        var y = x.Share();
        foreach (int i in given.Select(v => c.Axis(v, rank)).Order())
        {
            using var prev = y;
            y = prev.Unsqueeze(i);
        }
        return [y];
    }

    // Sizes from the input (opset 13), the attribute (before), or equal parts (num_outputs from opset 18).
    private static Tensor?[] Split(NodeContext c)
    {
        var x = c.In(0);
        int axis = c.Axis(c.Int("axis", 0), x.Rank);
        long[]? sizes = c.Opset >= 13 ? c.HostInts(1) : c.Ints("split");
        int parts = (int)c.Int("num_outputs", c.OutputCount);
        int n = x.Shape[axis];
        int[] split = sizes is not null ? [.. sizes.Select(v => checked((int)v))]
            : [.. Enumerable.Range(0, parts).Select(i => Math.Min((n + parts - 1) / parts, Math.Max(0, n - i * ((n + parts - 1) / parts))))];
        return [.. x.Split(axis, split).Select(Dense)];
    }

    // starts, ends, axes, steps as inputs (opset 10 on) or attributes (before). ONNX clamps out-of-range bounds as
    // Python slicing does.
    private static Tensor?[] Slice(NodeContext c)
    {
        var x = c.In(0);
        long[] starts, ends;
        long[]? axes, steps;
        if (c.Opset >= 10) { starts = c.HostInts(1)!; ends = c.HostInts(2)!; axes = c.HostInts(3); steps = c.HostInts(4); }
        else { starts = c.Ints("starts")!; ends = c.Ints("ends")!; axes = c.Ints("axes"); steps = null; }
        var y = x.Share();
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = c.Axis(axes?[i] ?? i, x.Rank);
            long step = steps?[i] ?? 1;
            if (step == 0) throw new InvalidDataException("Slice with step 0");
            long dim = x.Shape[axis];
            using var prev = y;
            if (step > 0)
            {
                int Bound(long v) => (int)Math.Clamp(v, -dim, dim);
                y = prev.Slice(axis, Bound(starts[i]), Bound(ends[i]), checked((int)step));
                continue;
            }
            // A negative step: Tessera's views step forward only, so pick the entries with IndexSelect. ONNX clamps
            // start to [0, dim - 1] and end to [-1, dim - 1] after adding dim to negative values.
            long s0 = starts[i] < 0 ? starts[i] + dim : starts[i], e0 = ends[i] < 0 ? ends[i] + dim : ends[i];
            s0 = Math.Clamp(s0, 0, dim - 1);
            e0 = Math.Clamp(e0, -1, dim - 1);
            var ids = new List<long>();
            for (long k = s0; k > e0; k += step) ids.Add(k);
            using var idsT = Tensor.FromArray(c.Backend, ids.ToArray(), ids.Count);
            y = prev.IndexSelect(axis, idsT);
        }
        return [Dense(y)];
    }

    // Tensor.IndexSelect along the axis with the indices flattened, then the axis unfolded into the indices' shape.
    // Negative indices count from the end, as ONNX allows.
    private static Tensor?[] Gather(NodeContext c)
    {
        var x = c.In(0);
        int axis = c.Axis(c.Int("axis", 0), x.Rank);
        var idsIn = c.In(1);
        long[] ids = c.HostInts(1)!;
        int v = x.Shape[axis];
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < -v || ids[i] >= v) throw new InvalidDataException($"Gather index {ids[i]} out of range for axis {axis} of {x.Shape}");
            if (ids[i] < 0) ids[i] += v;
        }
        using var flat = Tensor.FromArray(c.Backend, ids, ids.Length);
        using var picked = x.IndexSelect(axis, flat);
        return [picked.Reshape([.. x.Shape.Dims[..axis], .. idsIn.Shape.Dims, .. x.Shape.Dims[(axis + 1)..]])];
    }

    // Bidirectional broadcast to the given shape.
    private static Tensor?[] Expand(NodeContext c)
    {
        var x = c.In(0);
        var shape = new Shape([.. c.HostInts(1)!.Select(d => checked((int)d))]);
        return [Dense(x.BroadcastTo(Tessera.Shape.Broadcast(x.Shape, shape)))];
    }

    // Each axis d becomes [repeats, d] by broadcasting a size-1 axis in front of it, then merged.
    private static Tensor?[] Tile(NodeContext c)
    {
        var x = c.In(0);
        long[] repeats = c.HostInts(1)!;
        var v = x.Share();
        for (int i = x.Rank - 1; i >= 0; i--)
        {
            using var prev = v;
            v = prev.Unsqueeze(i);
        }
        // v is [1, d0, 1, d1, ...]
        int[] wide = [.. Enumerable.Range(0, x.Rank).SelectMany(i => new[] { checked((int)repeats[i]), x.Shape[i] })];
        using (v)
        {
            using var b = Dense(v.BroadcastTo(new Shape(wide)));
            return [b.Reshape([.. Enumerable.Range(0, x.Rank).Select(i => wide[2 * i] * wide[2 * i + 1])])];
        }
    }

    private static Tensor?[] DepthToSpace(NodeContext c)
    {
        var x = c.In(0);
        int bs = (int)c.Int("blocksize", 0);
        bool crd = c.Str("mode", "DCR") == "CRD";
        int n = x.Shape[0], ch = x.Shape[1], h = x.Shape[2], w = x.Shape[3], oc = ch / (bs * bs);
        using var v = crd ? x.Reshape(n, oc, bs, bs, h, w) : x.Reshape(n, bs, bs, oc, h, w);
        using var p = Dense(crd ? v.Permute(0, 1, 4, 2, 5, 3) : v.Permute(0, 3, 4, 1, 5, 2));
        return [p.Reshape(n, oc, h * bs, w * bs)];
    }

    private static Tensor?[] SpaceToDepth(NodeContext c)
    {
        var x = c.In(0);
        int bs = (int)c.Int("blocksize", 0);
        int n = x.Shape[0], ch = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        using var v = x.Reshape(n, ch, h / bs, bs, w / bs, bs);
        using var p = Dense(v.Permute(0, 3, 5, 1, 2, 4));
        return [p.Reshape(n, ch * bs * bs, h / bs, w / bs)];
    }

    // ONNX TensorProto.DataType numbers of the dtypes Tensor.To converts to. Float to integer is not mapped: To rounds
    // to nearest and saturates, ONNX's Cast truncates; an integer narrowing would saturate where ONNX wraps.
    private static Tensor?[] Cast(NodeContext c) => CastTo(c, c.Int("to", 0));

    private static Tensor?[] CastLike(NodeContext c) => CastTo(c, c.In(1).DType switch
    {
        DType.F32 => 1, DType.F16 => 10, DType.BF16 => 16, DType.U8 => 2, DType.I8 => 3, DType.I32 => 6, DType.I64 => 7,
        var t => throw new NotMappedException($"CastLike to {t.Name()}"),
    });

    private static Tensor?[] CastTo(NodeContext c, long to)
    {
        c.Int("saturate", 1);
        DType target = to switch
        {
            1 => DType.F32,
            10 => DType.F16,
            16 => DType.BF16,
            2 => DType.U8,
            3 => DType.I8,
            6 => DType.I32,
            7 => DType.I64,
            _ => throw new NotMappedException($"Cast to ONNX type {to}: no such Tessera dtype"),
        };
        var x = c.In(0);
        static int Bits(DType t) => t switch { DType.U8 or DType.I8 => 8, DType.I32 => 32, _ => 64 };
        if (!target.IsFloat() && x.DType.IsFloat())
            throw new NotMappedException($"Cast {x.DType.Name()} to {target.Name()}: Tensor.To rounds to nearest, ONNX's Cast truncates");
        if (!target.IsFloat() && Bits(target) < Bits(x.DType) || (x.DType == DType.I8 && target == DType.U8) || (x.DType == DType.U8 && target == DType.I8))
            throw new NotMappedException($"Cast {x.DType.Name()} to {target.Name()}: Tensor.To saturates, ONNX's Cast wraps");
        return [x.To(target)];
    }
}
