namespace Tessera;

// The pooling front end: average and max pooling over NCHW windows, and global average pooling (a window
// the size of the image), as CNN backbones (PP-LCNet's squeeze-and-excitation, PP-OCR's neck) use them.
public sealed partial class Tensor
{
    /// <summary>Average pooling of x [B, C, H, W]; padded taps are left out of the mean unless
    /// <see cref="Pool2dParams.CountIncludePad"/>.</summary>
    public Tensor AvgPool2d(Pool2dParams p) => Pool2d(PoolOp.Avg, p);

    /// <summary>Max pooling of x [B, C, H, W]; padding never wins.</summary>
    public Tensor MaxPool2d(Pool2dParams p) => Pool2d(PoolOp.Max, p);

    /// <summary>Mean over H and W of x [B, C, H, W], keeping them as size 1: [B, C, 1, 1].</summary>
    public Tensor GlobalAvgPool2d()
    {
        if (Rank != 4) throw new TesseraException($"global_avg_pool2d needs x [B, C, H, W], got {Shape}");
        return Pool2d(PoolOp.Avg, new Pool2dParams(Shape[2], Shape[3], 1, 1));
    }

    /// <summary>2-D pooling of x [B, C, H, W] to [B, C, OH, OW], OH = (H + 2 padH - kH) / strideH + 1 (floor).</summary>
    public Tensor Pool2d(PoolOp op, Pool2dParams p)
    {
        RequireFloat($"{op.ToString().ToLowerInvariant()}_pool2d");
        string name = $"{op.ToString().ToLowerInvariant()}_pool2d";
        if (Rank != 4) throw new TesseraException($"{name} needs x [B, C, H, W], got {Shape}");
        if (p.KernelH <= 0 || p.KernelW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 || p.PadH < 0 || p.PadW < 0)
            throw new TesseraException($"{name} of {Shape}: invalid parameters {p}");
        // As ONNX requires (pads smaller than the window): a window never lies wholly in the padding.
        if (p.PadH >= p.KernelH || p.PadW >= p.KernelW)
            throw new TesseraException($"{name} of {Shape}: padding must be smaller than the window ({p})");
        int oh, ow;
        try
        {
            oh = Conv2dParams.OutputSize(Shape[2], p.KernelH, p.StrideH, p.PadH, 1);
            ow = Conv2dParams.OutputSize(Shape[3], p.KernelW, p.StrideW, p.PadW, 1);
        }
        catch (TesseraException e) { throw new TesseraException($"{name} of {Shape} with {p}: {e.Message}", e); }
        var dst = NewLike(new Shape(Shape[0], Shape[1], oh, ow));
        Backend.Pool2d(op, this, p, dst);
        return dst;
    }
}
