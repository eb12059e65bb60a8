namespace Tessera.Cuda;

// Image ops through ImageKernels: bicubic resampling (one thread per output pixel, PyTorch's taps); nearest upsampling
// as one strided copy of a broadcast view. Conv2d and PatchEmbed (implicit GEMM) are in CudaBackend.Conv.cs.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst)
    {
        Require(x.Rank == 4 && dst.Rank == 4 && x.Shape[0] == dst.Shape[0] && x.Shape[1] == dst.Shape[1] && IsPlainFloat(x.DType) && IsPlainFloat(dst.DType),
            $"interpolate_bicubic: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float [B, C, H, W] with equal B and C");
        int h = x.Shape[2], w = x.Shape[3], oh = dst.Shape[2], ow = dst.Shape[3];
        if (dst.ElementCount == 0) return;
        Require(h > 0 && w > 0, $"interpolate_bicubic: empty input {x.Shape}");
        var planes = StridedLayoutArg.For("interpolate_bicubic", new Shape(x.Shape.Dims[..2]), x);
        var dl = StridedLayoutArg.For("interpolate_bicubic", dst.Shape, dst);
        long total = dst.ElementCount;
        RunBlocks("ImageKernels.Bicubic", (total + 255) / 256, WholeView(x), KernelArg.Struct(planes[0]), KernelArg.Scalar(x.Strides[2]),
            KernelArg.Scalar(x.Strides[3]), KernelArg.Scalar(h), KernelArg.Scalar(w), WholeView(dst), KernelArg.Struct(dl[0]),
            KernelArg.Scalar(oh), KernelArg.Scalar(ow), KernelArg.Scalar(alignCorners ? 1 : 0), KernelArg.Scalar(total));
    }

    /// <inheritdoc/>
    /// <remarks>x seen as [B, C, H, 1, W, 1] broadcast to [B, C, H, sH, W, sW] (stride-0 repeat axes) and copied into dst
    /// by the strided copy kernel, then the addend summed in place: the same arithmetic as IBackend's default body, with
    /// every intermediate view disposed (that body leaves one reference on x's storage, which on a device is memory
    /// never freed).</remarks>
    public void UpsampleNearest(Tensor x, Tensor? addend, int scaleH, int scaleW, Tensor dst)
    {
        Require(x.Rank == 4 && dst.Rank == 4 && scaleH > 0 && scaleW > 0 && dst.IsContiguous && x.DType == dst.DType
                && dst.Shape.Equals(new Shape(x.Shape[0], x.Shape[1], x.Shape[2] * scaleH, x.Shape[3] * scaleW)),
            $"upsample_nearest: x {x.DType.Name()} {x.Shape} by {scaleH}x{scaleW} does not give the contiguous dst {dst.DType.Name()} {dst.Shape}");
        Require(addend is null || (addend.Shape.Equals(dst.Shape) && addend.DType == dst.DType),
            $"upsample_nearest: addend {addend?.DType.Name()} {addend?.Shape} must be {dst.DType.Name()} {dst.Shape}");
        if (dst.ElementCount == 0) return;
        using var h1 = x.Unsqueeze(3);
        using var rows = h1.Unsqueeze(5);
        using var wide = rows.BroadcastTo(new Shape(x.Shape[0], x.Shape[1], x.Shape[2], scaleH, x.Shape[3], scaleW));
        using var dst6 = dst.Reshape(wide.Shape.Dims.ToArray());    // a view: dst is contiguous
        Copy(wide, dst6);
        if (addend is not null) Binary(BinaryOp.Add, dst, addend, dst);
    }
}
