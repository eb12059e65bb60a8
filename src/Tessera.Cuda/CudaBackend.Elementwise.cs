namespace Tessera.Cuda;

// Element-wise ops through ElementwiseKernels: an f32 kernel when every operand is contiguous f32, else the
// strided kernel, which reads any float dtype through per-operand layouts (stride 0 for broadcast axes).
// Launches use the block size the kernel declares and a grid capped at 32 blocks per SM: the kernels loop
// over the elements with a grid stride, so the grid never depends on the size.
public sealed unsafe partial class CudaBackend
{
    private const string Family = "ElementwiseKernels.";

    /// <inheritdoc/>
    public void Fill(Tensor dst, double value)
    {
        if (dst.DType.IsBlock()) throw new TesseraException($"fill of a {dst.DType.Name()} tensor");
        long n = dst.ElementCount;
        if (n == 0) return;
        if (dst.DType == DType.F32 && dst.IsContiguous)
            Run("FillF32", n, ViewAt(dst, n), KernelArg.Scalar(n), KernelArg.Scalar((float)value));
        else
        {
            var l = StridedLayoutArg.For("fill", dst.Shape, dst);
            Run("FillStrided", n, WholeView(dst), KernelArg.Struct(l[0]), KernelArg.Scalar(n), KernelArg.Scalar(value));
        }
    }

    /// <inheritdoc/>
    public void Copy(Tensor src, Tensor dst)
    {
        if (!src.Shape.Equals(dst.Shape)) throw new TesseraException($"copy: source {src.Shape} and destination {dst.Shape} differ in shape");
        long n = src.ElementCount;
        var s = Own(src.Storage);
        var d = Own(dst.Storage);
        if (src.DType == dst.DType && src.IsContiguous && dst.IsContiguous)
        {
            if (n == 0) return;
            long bytes = src.DType.ByteCount(n);
            Bind();
            CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2(d.DevicePointer + (ulong)ByteOffset(dst), s.DevicePointer + (ulong)ByteOffset(src),
                (nuint)bytes, Stream), "cuMemcpyDtoDAsync_v2", $"{bytes} bytes");
            return;
        }
        if (src.DType.IsBlock() || dst.DType.IsBlock())
            throw new TesseraException($"copy {src.DType.Name()} {src.Shape} to {dst.DType.Name()} {dst.Shape}: block types copy only contiguously and unconverted");
        if (n == 0) return;
        var l = StridedLayoutArg.For("copy", src.Shape, src, dst);
        Run("CopyStrided", n, WholeView(src), KernelArg.Struct(l[0]), WholeView(dst), KernelArg.Struct(l[1]), KernelArg.Scalar(n));
    }

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor dst)
    {
        CheckElementwise(op.ToString(), dst, x);
        long n = dst.ElementCount;
        if (n == 0) return;
        if (AllF32Contiguous(x, dst))
            Run("UnaryF32", n, ViewAt(x, n), ViewAt(dst, n), KernelArg.Scalar(n), KernelArg.Scalar((int)op));
        else
        {
            var l = StridedLayoutArg.For(op.ToString(), dst.Shape, x, dst);
            Run("UnaryStrided", n, WholeView(x), KernelArg.Struct(l[0]), WholeView(dst), KernelArg.Struct(l[1]), KernelArg.Scalar(n), KernelArg.Scalar((int)op));
        }
    }

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst)
    {
        CheckElementwise(op.ToString(), dst, a, b);
        long n = dst.ElementCount;
        if (n == 0) return;
        if (AllF32Contiguous(a, b, dst))
            Run("BinaryF32", n, ViewAt(a, n), ViewAt(b, n), ViewAt(dst, n), KernelArg.Scalar(n), KernelArg.Scalar((int)op));
        else
        {
            var l = StridedLayoutArg.For(op.ToString(), dst.Shape, a, b, dst);
            Run("BinaryStrided", n, WholeView(a), KernelArg.Struct(l[0]), WholeView(b), KernelArg.Struct(l[1]),
                WholeView(dst), KernelArg.Struct(l[2]), KernelArg.Scalar(n), KernelArg.Scalar((int)op));
        }
    }

    /// <inheritdoc/>
    public void Affine(Tensor x, Tensor dst, double mul, double add)
    {
        CheckElementwise("affine", dst, x);
        long n = dst.ElementCount;
        if (n == 0) return;
        if (AllF32Contiguous(x, dst))
            Run("AffineF32", n, ViewAt(x, n), ViewAt(dst, n), KernelArg.Scalar(n), KernelArg.Scalar((float)mul), KernelArg.Scalar((float)add));
        else
        {
            var l = StridedLayoutArg.For("affine", dst.Shape, x, dst);
            Run("AffineStrided", n, WholeView(x), KernelArg.Struct(l[0]), WholeView(dst), KernelArg.Struct(l[1]),
                KernelArg.Scalar(n), KernelArg.Scalar((float)mul), KernelArg.Scalar((float)add));
        }
    }

    private void Run(string kernel, long elements, params ReadOnlySpan<KernelArg> args) => RunElements(Family + kernel, elements, args);

    /// <summary>Launches a kernel (by its full "Class.Method" name) that walks <paramref name="elements"/> with a
    /// grid-stride loop over threads.</summary>
    private void RunElements(string kernel, long elements, params ReadOnlySpan<KernelArg> args)
    {
        Bind();
        var meta = _kernels.Meta(kernel);
        uint block = (uint)(meta.BlockX > 0 ? meta.BlockX : 256);
        long blocks = Math.Min((elements + block - 1) / block, (long)Info.Multiprocessors * 32);
        _kernels.Launch(kernel, _stream, ((uint)Math.Max(blocks, 1), 1, 1), (block, (uint)Math.Max(meta.BlockY, 1), 1), 0, args);
    }

    private static void CheckElementwise(string op, Tensor dst, params ReadOnlySpan<Tensor> inputs)
    {
        if (!dst.DType.IsFloat()) throw new TesseraException($"{op}: floating-point tensors only, got {dst.DType.Name()} {dst.Shape}");
        foreach (var t in inputs)
            if (!t.Shape.Equals(dst.Shape) || !t.DType.IsFloat())
                throw new TesseraException($"{op}: input {t.DType.Name()} {t.Shape} does not match the output {dst.DType.Name()} {dst.Shape}");
    }

    private static bool AllF32Contiguous(params ReadOnlySpan<Tensor> ts)
    {
        foreach (var t in ts) if (t.DType != DType.F32 || !t.IsContiguous) return false;
        return true;
    }

    private static long ByteOffset(Tensor t) => t.DType.ByteCount(t.Offset - t.Offset % t.DType.BlockSize());

    /// <summary>A view starting at the tensor's first element, <paramref name="n"/> elements long.</summary>
    private KernelArg ViewAt(Tensor t, long n) => KernelArg.View(Own(t.Storage).DevicePointer + (ulong)ByteOffset(t), n);

    /// <summary>A byte view of the whole storage; the layout's element offset finds the tensor in it.</summary>
    private KernelArg WholeView(Tensor t) => KernelArg.View(Own(t.Storage).DevicePointer, t.Storage.ByteLength);
}
