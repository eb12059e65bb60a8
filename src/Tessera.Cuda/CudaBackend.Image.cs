namespace Tessera.Cuda;

// Image ops through ImageKernels: bicubic resampling (one thread per output pixel, PyTorch's taps).
// Conv2d and PatchEmbed (implicit GEMM) are in CudaBackend.Conv.cs.
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
}
