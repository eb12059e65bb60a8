namespace Tessera.Models.Tests.OnnxNodes;

// Conv, ConvTranspose and the poolings over 1-D and 2-D spatial inputs. A 1-D input runs as a 2-D one of height 1.
// Tessera pads both sides alike: asymmetric padding (explicit, or from auto_pad SAME_*) runs with a symmetric padding
// at least as large (Windows.Symmetric) and the extra outputs cropped, which keeps exactly ONNX's windows; ceil_mode is extra padding at the end (padding never wins a max, and is left out of an exclusive average).
internal static class ConvPoolOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["Conv"] = Conv;
        ops["ConvTranspose"] = ConvTranspose;
        ops["MaxPool"] = c => [Pool(c, PoolOp.Max)];
        ops["AveragePool"] = c => [Pool(c, PoolOp.Avg)];
        ops["GlobalAveragePool"] = c => [Global(c, ReduceOp.Mean)];
        ops["GlobalMaxPool"] = c => [Global(c, ReduceOp.Max)];
    }

    private static int[] Spatial(NodeContext c, Tensor x)
    {
        if (x.Rank is not (3 or 4)) throw new NotMappedException($"{c.Node.OpType} over {x.Rank - 2} spatial axes ({x.Shape}): Tessera's convolutions and poolings are 2-D (1-D runs as height 1)");
        return [.. x.Shape.Dims[2..]];
    }

    // [B, C, L] -> [B, C, 1, L]; 2-D inputs pass through.
    private static Tensor As2d(Tensor t) => t.Rank == 3 ? t.Unsqueeze(2) : t.Share();

    // (per 2-D axis) the value for H and W from a per-spatial-axis array: H is fixed at `h` for a 1-D input.
    private static (int H, int W) Hw(int[] v, int h) => v.Length == 1 ? (h, v[0]) : (v[0], v[1]);

    // Crops each spatial axis of the 4-D result to [skip, skip + size), and drops the height axis of a 1-D input.
    private static Tensor Crop(Tensor y, int[] skip, int[] size)
    {
        var cur = y.Share();
        for (int i = 0; i < size.Length; i++)
        {
            int axis = 4 - size.Length + i;
            if (skip[i] == 0 && size[i] == cur.Shape[axis]) continue;
            using var prev = cur;
            cur = prev.Narrow(axis, skip[i], size[i]);
        }
        using (cur)
        {
            using var cont = cur.Contiguous();
            return size.Length == 1 ? cont.Squeeze(2) : cont.Share();
        }
    }

    private static Tensor?[] Conv(NodeContext c)
    {
        var x = c.FloatIn(0);
        var w = c.FloatIn(1);
        int[] spatial = Spatial(c, x);
        var win = Windows.Read(c, spatial, [.. w.Shape.Dims[2..]]);
        int groups = checked((int)c.Int("group", 1));
        int n = spatial.Length;
        var pads = new int[n];
        var skip = new int[n];
        var size = new int[n];
        for (int i = 0; i < n; i++)
        {
            (pads[i], skip[i]) = win.Symmetric(i);
            size[i] = win.OutputSize(i, spatial[i]);
        }
        var (sh, sw) = Hw(win.Strides, 1);
        var (ph, pw) = Hw(pads, 0);
        var (dh, dw) = Hw(win.Dilations, 1);
        using var x4 = As2d(x);
        using var w4 = As2d(w);
        using var y = x4.Conv2d(w4, c.Opt(2), new Conv2dParams(sh, sw, ph, pw, dh, dw, groups));
        return [Crop(y, skip, size)];
    }

    private static Tensor?[] ConvTranspose(NodeContext c)
    {
        var x = c.FloatIn(0);
        var w = c.FloatIn(1);
        int[] spatial = Spatial(c, x);
        int n = spatial.Length;
        int[] kernel = [.. w.Shape.Dims[2..]];
        var win = Windows.Read(c, spatial, kernel);   // strides, dilations, explicit pads
        int groups = checked((int)c.Int("group", 1));
        long[] op = c.Ints("output_padding") ?? new long[n];
        long[]? outShape = c.Ints("output_shape");
        string auto = c.Str("auto_pad", "NOTSET");
        if (outShape is { Length: > 0 } && outShape.Length == n + 2) outShape = outShape[2..];
        var begin = new int[n];
        var size = new int[n];
        var full = new int[n];
        for (int i = 0; i < n; i++)
        {
            full[i] = win.Strides[i] * (spatial[i] - 1) + (kernel[i] - 1) * win.Dilations[i] + 1;
            if (outShape is { Length: > 0 } || auto is "SAME_UPPER" or "SAME_LOWER")
            {
                // ONNX: the padding that gives the requested size, the odd one at the end for SAME_UPPER, else the start.
                size[i] = outShape is { Length: > 0 } ? checked((int)outShape[i]) : spatial[i] * win.Strides[i];
                int total = full[i] + (int)op[i] - size[i];
                int half = (int)Math.Floor(total / 2.0);
                begin[i] = auto == "SAME_UPPER" ? half : total - half;
            }
            else
            {
                begin[i] = win.Begin[i];
                size[i] = full[i] + (int)op[i] - win.Begin[i] - win.End[i];
            }
            if (begin[i] < 0) throw new NotMappedException($"ConvTranspose output starting {-begin[i]} before the full result (negative padding)");
        }
        // Tessera's own padding when both sides match, else the full result (pad 0) with output padding and a crop.
        var pads = new int[n];
        var outPad = new int[n];
        var skip = new int[n];
        for (int i = 0; i < n; i++)
        {
            int end = full[i] + (int)op[i] - begin[i] - size[i];
            if (begin[i] == end) (pads[i], outPad[i], skip[i]) = (begin[i], (int)op[i], 0);
            else (pads[i], outPad[i], skip[i]) = (0, Math.Max(0, begin[i] + size[i] - full[i]), begin[i]);
            if (outPad[i] >= Math.Max(win.Strides[i], win.Dilations[i]))
                throw new NotMappedException($"ConvTranspose needs {outPad[i]} rows past the full result on axis {i}, more than Tessera's output padding allows (below the stride {win.Strides[i]})");
        }
        var (sh, sw) = Hw(win.Strides, 1);
        var (ph, pw) = Hw(pads, 0);
        var (oh, ow) = Hw(outPad, 0);
        var (dh, dw) = Hw(win.Dilations, 1);
        using var x4 = As2d(x);
        using var w4 = As2d(w);
        using var y = x4.ConvTranspose2d(w4, c.Opt(2), new ConvTranspose2dParams(sh, sw, ph, pw, oh, ow, dh, dw, groups));
        return [Crop(y, skip, size)];
    }

    private static Tensor Pool(NodeContext c, PoolOp op)
    {
        var x = c.FloatIn(0);
        int[] spatial = Spatial(c, x);
        int n = spatial.Length;
        long[] ks = c.Ints("kernel_shape") ?? throw new InvalidDataException($"{c.Node.OpType} without kernel_shape");
        var win = Windows.Read(c, spatial, [.. ks.Select(k => (int)k)]);
        if (win.Dilations.Any(d => d != 1)) throw new NotMappedException($"{c.Node.OpType} with dilations: Tessera's pooling windows are dense");
        if (op == PoolOp.Max && (c.Wants(1) || c.Int("storage_order", 0) != 0)) throw new NotMappedException("MaxPool's Indices output");
        bool ceil = c.Int("ceil_mode", 0) != 0;
        bool includePad = op == PoolOp.Avg && c.Int("count_include_pad", 0) != 0;
        var pads = new int[n];
        var skip = new int[n];
        var size = new int[n];
        for (int i = 0; i < n; i++)
        {
            int k = win.Kernel[i], s = win.Strides[i], b = win.Begin[i], e = win.End[i];
            int span = spatial[i] + b + e - k;
            size[i] = (ceil ? (span + s - 1) / s : span / s) + 1;
            e = Math.Max(e, (size[i] - 1) * s + k - (spatial[i] + b));   // ceil mode: the last window's overhang as padding
            if (includePad && b != e) throw new NotMappedException($"{c.Node.OpType} count_include_pad with padding {b}/{e}: the divisor would count Tessera's symmetric padding");
            var sized = win with { End = [.. win.End.Select((v, j) => j == i ? e : v)] };
            (pads[i], skip[i]) = sized.Symmetric(i);
            if (pads[i] >= k) throw new NotMappedException($"{c.Node.OpType} padding {b}/{e} with stride {s} needs a symmetric padding of {pads[i]}, not below the window {k}");
        }
        var (kh, kw) = Hw(win.Kernel, 1);
        var (sh, sw) = Hw(win.Strides, 1);
        var (ph, pw) = Hw(pads, 0);
        using var x4 = As2d(x);
        using var y = x4.Pool2d(op, new Pool2dParams(kh, kw, sh, sw, ph, pw, includePad));
        return Crop(y, skip, size);
    }

    private static Tensor Global(NodeContext c, ReduceOp op)
    {
        var x = c.FloatIn(0);
        return ReduceOps.ReduceAxes(x, op, Enumerable.Range(2, x.Rank - 2));
    }
}
