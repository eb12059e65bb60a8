namespace Tessera;

// Nearest-neighbour upsampling by whole factors, built from views: no backend op is needed, because repeating
// each pixel s times is a broadcast of a size-1 axis placed after H and after W. The one copy is the Contiguous
// at the end, which every backend already has.
public sealed partial class Tensor
{
    /// <summary>Nearest-neighbour upsampling of x [B, C, H, W] by integer factors: out[b, c, y, x] =
    /// x[b, c, y / scaleH, x / scaleW] (floor), shape [B, C, H scaleH, W scaleW]. This is ONNX Resize with mode
    /// nearest, asymmetric coordinates and floor rounding at integer scales, and PyTorch's interpolate(mode="nearest").</summary>
    public Tensor UpsampleNearest(int scaleH, int scaleW)
    {
        if (Rank != 4 || scaleH <= 0 || scaleW <= 0)
            throw new TesseraException($"upsample_nearest needs x [B, C, H, W] and positive integer scales, got {Shape} by {scaleH}x{scaleW}");
        int b = Shape[0], c = Shape[1], h = Shape[2], w = Shape[3];
        // [B, C, H, 1, W, 1] -> stride-0 broadcast [B, C, H, sH, W, sW] -> one copy -> [B, C, H sH, W sW].
        using var rows = Unsqueeze(3).Unsqueeze(5);
        using var wide = rows.BroadcastTo(new Shape(b, c, h, scaleH, w, scaleW));
        using var dense = wide.Contiguous();
        return dense.Reshape(b, c, h * scaleH, w * scaleW);
    }

    /// <summary><see cref="UpsampleNearest(int, int)"/> with the same factor on both axes.</summary>
    public Tensor UpsampleNearest(int scale) => UpsampleNearest(scale, scale);
}
