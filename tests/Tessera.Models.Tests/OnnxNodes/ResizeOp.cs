namespace Tessera.Models.Tests.OnnxNodes;

// ONNX Resize (and the older Upsample) on the two resizes Tessera has: nearest-neighbour upsampling by whole factors
// and PyTorch's bicubic (A = -0.75, edge-clamped taps), over the last two axes of an NCHW tensor.
internal static class ResizeOp
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["Resize"] = Resize;
        ops["Upsample"] = Resize;
    }

    private static Tensor?[] Resize(NodeContext c)
    {
        var x = c.FloatIn(0);
        if (x.Rank != 4) throw new NotMappedException($"{c.Node.OpType} of a rank-{x.Rank} tensor: Tessera resizes NCHW");
        string mode = c.Str("mode", "nearest");
        string coords = c.Str("coordinate_transformation_mode", "half_pixel");
        string nearest = c.Str("nearest_mode", "round_prefer_floor");
        float a = c.Float("cubic_coeff_a", -0.75f);
        bool exclude = c.Int("exclude_outside", 0) != 0;
        c.Float("extrapolation_value", 0f);   // only tf_crop_and_resize reads it, refused below
        // Inputs: X, scales (Upsample, and Resize before opset 11); X, roi, scales, sizes (Resize from opset 11);
        // Upsample before opset 9 has scales as an attribute.
        float[]? scales = c.Node.OpType == "Upsample" && c.Opset < 9 ? (c.Has("scales") ? [.. c.Node.Attributes["scales"].Floats] : null)
            : c.Node.OpType == "Upsample" || c.Opset < 11 ? c.HostFloats(1)
            : c.HostFloats(2) is { Length: > 0 } s ? s : null;
        long[]? sizes = c.Opset >= 11 && c.Node.OpType == "Resize" ? c.HostInts(3) : null;
        int h = x.Shape[2], w = x.Shape[3];
        int oh, ow;
        if (sizes is { Length: 4 }) { oh = (int)sizes[2]; ow = (int)sizes[3]; }
        else if (scales is { Length: 4 }) { oh = (int)Math.Floor(h * (double)scales[2]); ow = (int)Math.Floor(w * (double)scales[3]); }
        else throw new InvalidDataException($"{c.Node.OpType} needs 4 scales or 4 sizes");
        if ((sizes is { Length: 4 } && (sizes[0] != x.Shape[0] || sizes[1] != x.Shape[1])) || (scales is { Length: 4 } && (scales[0] != 1 || scales[1] != 1)))
            throw new NotMappedException($"{c.Node.OpType} of the batch or channel axes");
        // ONNX maps output coordinates with the given scale; Tessera with output/input size. Equal when the scale
        // gives a whole output size.
        bool exactScale = scales is not { Length: 4 } || (h * (double)scales[2] == oh && w * (double)scales[3] == ow);

        if (mode == "nearest")
        {
            // half_pixel + round_prefer_* and asymmetric + floor both give floor(x / s) at whole factors s >= 1.
            bool floorMap = (coords is "half_pixel" or "pytorch_half_pixel" && nearest is "round_prefer_floor" or "round_prefer_ceil")
                || (coords == "asymmetric" && nearest == "floor");
            if (!floorMap) throw new NotMappedException($"Resize nearest with {coords} coordinates and {nearest} rounding");
            if (oh < h || ow < w || oh % h != 0 || ow % w != 0 || !exactScale)
                throw new NotMappedException($"Resize nearest from {h}x{w} to {oh}x{ow}: Tessera upsamples by whole factors");
            return [x.UpsampleNearest(oh / h, ow / w)];
        }
        if (mode == "cubic")
        {
            if (a != -0.75f || exclude) throw new NotMappedException($"Resize cubic with A = {a}{(exclude ? ", exclude_outside" : "")}: Tessera's bicubic is PyTorch's (A = -0.75)");
            if (coords is not ("half_pixel" or "align_corners")) throw new NotMappedException($"Resize cubic with {coords} coordinates");
            if (!exactScale) throw new NotMappedException($"Resize cubic by scales [{string.Join(", ", scales!)}] that do not give whole sizes from {h}x{w}");
            return [x.InterpolateBicubic(oh, ow, alignCorners: coords == "align_corners")];
        }
        throw new NotMappedException($"Resize mode {mode}: Tessera has nearest (whole factors) and bicubic");
    }
}
