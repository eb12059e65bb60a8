namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>The window attributes Conv and the poolings share (kernel_shape, strides, dilations, pads, auto_pad), read
/// for 1-D or 2-D spatial inputs, and the explicit begin/end padding they give.</summary>
internal sealed record Windows(int[] Kernel, int[] Strides, int[] Dilations, int[] Begin, int[] End)
{
    public static Windows Read(NodeContext c, int[] spatial, int[] kernel)
    {
        int n = spatial.Length;
        int[] Attr(string name, int fallback)
        {
            var v = c.Ints(name);
            if (v is not null && v.Length != n) throw new InvalidDataException($"{c.Node.OpType}: {name} has {v.Length} values for {n} spatial axes");
            return v is null ? Enumerable.Repeat(fallback, n).ToArray() : [.. v.Select(x => checked((int)x))];
        }
        var ks = c.Ints("kernel_shape");
        if (ks is not null && !ks.Select(x => (int)x).SequenceEqual(kernel))
            throw new InvalidDataException($"{c.Node.OpType}: kernel_shape [{string.Join(", ", ks)}] does not match the weight's [{string.Join(", ", kernel)}]");
        int[] strides = Attr("strides", 1), dil = Attr("dilations", 1);
        int[] begin = new int[n], end = new int[n];
        string auto = c.Str("auto_pad", "NOTSET");
        if (auto is "NOTSET")
        {
            var pads = c.Ints("pads");
            if (pads is not null && pads.Length != 2 * n) throw new InvalidDataException($"{c.Node.OpType}: pads has {pads.Length} values for {n} spatial axes");
            for (int i = 0; pads is not null && i < n; i++) { begin[i] = checked((int)pads[i]); end[i] = checked((int)pads[n + i]); }
        }
        else if (auto is "SAME_UPPER" or "SAME_LOWER")
        {
            // Output ceil(in / stride); the padding that needs, the odd one at the end (UPPER) or the start (LOWER).
            for (int i = 0; i < n; i++)
            {
                int outSize = (spatial[i] + strides[i] - 1) / strides[i];
                int total = Math.Max(0, (outSize - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - spatial[i]);
                int small = total / 2;
                (begin[i], end[i]) = auto == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        else if (auto != "VALID") throw new InvalidDataException($"{c.Node.OpType}: auto_pad '{auto}'");
        return new Windows(kernel, strides, dil, begin, end);
    }

    /// <summary>Output size along axis i for the explicit padding (floor mode).</summary>
    public int OutputSize(int i, int input) => (input + Begin[i] + End[i] - ((Kernel[i] - 1) * Dilations[i] + 1)) / Strides[i] + 1;

    /// <summary>Tessera pads both sides alike: a symmetric padding at least max(begin, end) whose extra rows at the
    /// start are a whole number of strides, and the first output of the asymmetric result inside the symmetric one.
    /// The windows kept are exactly ONNX's; the extra zero (or ignored) padding only feeds outputs that are cropped.</summary>
    public (int Pad, int Skip) Symmetric(int i)
    {
        int pad = Math.Max(Begin[i], End[i]);
        pad += (Strides[i] - (pad - Begin[i]) % Strides[i]) % Strides[i];
        return (pad, (pad - Begin[i]) / Strides[i]);
    }
}
