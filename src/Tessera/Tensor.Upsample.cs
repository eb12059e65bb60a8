namespace Tessera;

// Nearest-neighbour upsampling by whole factors. The front end checks shapes and hands the op to the backend
// (IBackend.UpsampleNearest); backends without a kernel of their own use UpsampleNearestByViews: repeating each pixel
// s times is a broadcast of a size-1 axis placed after H and after W, so one strided Copy does it.
public sealed partial class Tensor
{
    /// <summary>Nearest-neighbour upsampling of x [B, C, H, W] by integer factors: out[b, c, y, x] =
    /// x[b, c, y / scaleH, x / scaleW] (floor), shape [B, C, H scaleH, W scaleW]. This is ONNX Resize with mode
    /// nearest, asymmetric coordinates and floor rounding at integer scales, and PyTorch's interpolate(mode="nearest").</summary>
    public Tensor UpsampleNearest(int scaleH, int scaleW) => Upsample(null, scaleH, scaleW);

    /// <summary><see cref="UpsampleNearest(int, int)"/> with the same factor on both axes.</summary>
    public Tensor UpsampleNearest(int scale) => UpsampleNearest(scale, scale);

    /// <summary>addend + UpsampleNearest(scale) in one pass (an FPN's top-down sum): addend must have the
    /// upsampled shape [B, C, H scale, W scale] and this tensor's dtype.</summary>
    public Tensor UpsampleNearestAdd(Tensor addend, int scale) => Upsample(addend, scale, scale);

    private Tensor Upsample(Tensor? addend, int scaleH, int scaleW)
    {
        if (Rank != 4 || scaleH <= 0 || scaleW <= 0)
            throw new TesseraException($"upsample_nearest needs x [B, C, H, W] and positive integer scales, got {Shape} by {scaleH}x{scaleW}");
        var shape = new Shape(Shape[0], Shape[1], checked(Shape[2] * scaleH), checked(Shape[3] * scaleW));
        if (addend is not null)
        {
            SameBackend("upsample_nearest addend", addend);
            if (addend.DType != DType || addend.Shape != shape)
                throw new TesseraException($"upsample_nearest: addend {addend.DType.Name()} {addend.Shape} must be {DType.Name()} {shape} (x {Shape} by {scaleH}x{scaleW})");
        }
        var dst = NewLike(shape);
        Backend.UpsampleNearest(this, addend, scaleH, scaleW, dst);
        return dst;
    }

    /// <summary>The default body of <see cref="IBackend.UpsampleNearest"/>: x [B, C, H, 1, W, 1] broadcast to
    /// [B, C, H, sH, W, sW] and copied into dst's view of that shape, then the addend summed in place.</summary>
    internal static void UpsampleNearestByViews(IBackend backend, Tensor x, Tensor? addend, int scaleH, int scaleW, Tensor dst)
    {
        int b = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        using var tall = x.Unsqueeze(3);   // each view holds a reference on x's storage: dispose both
        using var rows = tall.Unsqueeze(5);
        using var wide = rows.BroadcastTo(new Shape(b, c, h, scaleH, w, scaleW));
        using var dst6 = dst.Reshape(b, c, h, scaleH, w, scaleW);   // a view: dst is contiguous
        backend.Copy(wide, dst6);
        if (addend is not null) backend.Binary(BinaryOp.Add, dst, addend, dst);
    }
}
