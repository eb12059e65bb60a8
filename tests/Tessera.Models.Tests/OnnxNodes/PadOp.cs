namespace Tessera.Models.Tests.OnnxNodes;

// ONNX Pad in constant mode: a tensor filled with the constant, and the input copied into the slice of it that the
// padding leaves (Tensor.CopyInto a Narrow view: the in-place write the KV caches use). Negative pads crop the input
// first. Edge and reflect modes are not on Tessera's surface.
internal static class PadOp
{
    public static void Register(Dictionary<string, OnnxOp> ops) => ops["Pad"] = Pad;

    private static Tensor?[] Pad(NodeContext c)
    {
        var x = c.In(0);
        string mode = c.Str("mode", "constant");
        if (mode != "constant") throw new NotMappedException($"Pad mode {mode}: Tessera has no edge or reflect padding");
        long[] pads;
        double value;
        if (c.Opset >= 11)
        {
            pads = c.HostInts(1)!;
            value = c.Opt(2) is { } v ? v.To(DType.F32).ToArray<float>()[0] : 0;
            if (c.Opt(3) is not null) throw new NotMappedException("Pad with axes (opset 18)");
        }
        else { pads = c.Ints("pads")!; value = c.Float("value", 0); }
        int r = x.Rank;
        if (pads.Length != 2 * r) throw new InvalidDataException($"Pad: {pads.Length} pads for rank {r}");
        var src = x.Share();
        for (int i = 0; i < r; i++)
        {
            int begin = (int)Math.Max(0, -pads[i]), end = (int)Math.Max(0, -pads[r + i]);
            if (begin == 0 && end == 0) continue;
            using var prev = src;
            src = prev.Narrow(i, begin, prev.Shape[i] - begin - end);
        }
        using (src)
        {
            int[] dims = [.. Enumerable.Range(0, r).Select(i => checked(src.Shape[i] + (int)Math.Max(0, pads[i]) + (int)Math.Max(0, pads[r + i])))];
            var dst = Tensor.Full(c.Backend, x.DType, new Shape(dims), value);
            var slot = dst.Share();
            for (int i = 0; i < r; i++)
            {
                using var prev = slot;
                slot = prev.Narrow(i, (int)Math.Max(0, pads[i]), src.Shape[i]);
            }
            using (slot) src.CopyInto(slot);
            return [dst];
        }
    }
}
