using System.Runtime.InteropServices;

namespace Tessera.Cuda;

// Quantized linear layers through QuantKernels: the activations are quantized on the device first (int8 per row
// for I8 weights, per 32-block for Q8_0/Q4_0/Q4_1, per 256-block for Q4_K/Q6_K; bit-identical to the CPU backend's),
// then decode shapes (M < GemvMaxRows) run the dp4a GEMV, one warp an output, and prefill shapes the 64 x 64 tiled
// GEMM. The weight is read in place, as GGUF stores it; x, bias and residual may be strided views of any float dtype.
public sealed unsafe partial class CudaBackend
{
    /// <summary>Below this many rows of x, each output is one warp's dot product (the weight streams once per row,
    /// from L2 after the first); from it on, 64-row tiles read each weight block once per 64 rows.</summary>
    private const int GemvMaxRows = 4;

    /// <inheritdoc/>
    public void QuantizedMatMul(Tensor x, Tensor w, Tensor? scales, Tensor dst, MatMulEpilogue epilogue)
    {
        Require(w.Rank == 2 && w.IsContiguous, $"quantized matmul: weight {w.DType.Name()} {w.Shape} must be a contiguous [N, K]");
        int n = w.Shape[0], k = w.Shape[1];
        Require(x.Rank >= 1 && x.Shape[-1] == k && IsPlainFloat(x.DType),
            $"quantized matmul: x {x.DType.Name()} {x.Shape} must be a float [..., {k}] for weight {w.DType.Name()} {w.Shape}");
        Require(dst.Shape.Equals(x.Shape.With(-1, n)) && IsPlainFloat(dst.DType) && dst.IsContiguous,
            $"quantized matmul: dst {dst.DType.Name()} {dst.Shape} must be a contiguous float {x.Shape.With(-1, n)} for x {x.Shape} and weight {w.Shape}");
        Require(w.DType is DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q4_K or DType.Q6_K or DType.I8,
            $"quantized matmul: no kernel for a {w.DType.Name()} weight {w.Shape} (q8_0, q4_0, q4_1, q4_k, q6_k or i8 with scales)");
        int bs = w.DType.BlockSize();
        Require(k % bs == 0, $"quantized matmul: x {x.Shape} @ {w.DType.Name()} weight {w.Shape}: K = {k} is not a multiple of the {bs}-element block");
        if (w.DType == DType.I8)
            Require(scales is not null && scales.Rank == 1 && scales.Shape[0] == n && scales.DType == DType.F32,
                $"quantized matmul: i8 weight {w.Shape} needs f32 per-row scales [{n}], got {(scales is null ? "none" : $"{scales.DType.Name()} {scales.Shape}")}");
        else Require(scales is null, $"quantized matmul: a {w.DType.Name()} weight {w.Shape} carries its own scales; got extra scales {scales?.Shape}");
        var res = epilogue.Residual;
        var mul = epilogue.Multiplier;
        var bias = epilogue.Bias;
        Require(res is null || (res.Shape.Equals(dst.Shape) && IsPlainFloat(res.DType)),
            $"quantized matmul: residual {res?.DType.Name()} {res?.Shape} must be a float tensor of dst's shape {dst.Shape}");
        Require(mul is null || (mul.Shape.Equals(dst.Shape) && IsPlainFloat(mul.DType)),
            $"quantized matmul: multiplier {mul?.DType.Name()} {mul?.Shape} must be a float tensor of dst's shape {dst.Shape}");
        Require(bias is null || (bias.Rank == 1 && bias.Shape[0] == n && IsPlainFloat(bias.DType)),
            $"quantized matmul: bias {bias?.DType.Name()} {bias?.Shape} must be a float vector [{n}]");
        if (dst.ElementCount == 0) return;

        int m = checked((int)(dst.ElementCount / n));
        int group = w.DType == DType.I8 ? k : bs == 256 ? 256 : 32;
        int groups = w.DType == DType.I8 ? (k > 0 ? 1 : 0) : k / group;
        int kPad = (k + 31) / 32 * 32;
        var rows = new Shape(dst.Shape.Dims[..^1]);
        // Layouts of the rows of x, dst and whichever of residual and multiplier are present (dst's stands in for an
        // absent one, which the kernel does not read).
        var operands = new List<Tensor> { x, dst };
        if (res is not null) operands.Add(res);
        if (mul is not null) operands.Add(mul);
        var l = StridedLayoutArg.For("quantized matmul", rows, [.. operands]);
        var rl = res is null ? l[1] : l[2];
        var ml = mul is null ? l[1] : l[^1];
        var a = new QMatArgsArg
        {
            WOffset = w.DType.ByteCount(w.Offset), RowBytes = w.DType.ByteCount(k),
            XColStride = x.Strides[^1], DColStride = dst.Strides[^1], RColStride = res is null ? 0 : res.Strides[^1],
            MColStride = mul is null ? 0 : mul.Strides[^1], HasMultiplier = mul is null ? 0 : 1,
            M = m, N = n, K = k, KPad = kPad, Groups = groups, GroupSize = group, WType = (int)w.DType,
            Act = ActivationCode(epilogue.Activation), HasResidual = res is null ? 0 : 1,
        };
        long qBytes = Math.Max((long)m * kPad, 1);
        Require(qBytes <= int.MaxValue, $"quantized matmul: x {x.Shape} is too large to quantize in one buffer ({qBytes} bytes)");
        using var q = Tensor.Zeros(this, DType.I8, new Shape((int)qBytes));
        using var d = Tensor.Zeros(this, DType.F32, new Shape(Math.Max(checked(m * groups), 1)));
        if (groups > 0)
            RunBlocks("QuantKernels.QuantizeActivations", ((long)m * groups + 7) / 8, WholeView(x), KernelArg.Struct(l[0]),
                KernelArg.Struct(a), WholeView(q), ViewAt(d, d.ElementCount));

        var none = KernelArg.View(0, 0);
        var args = (ReadOnlySpan<KernelArg>)[WholeView(w), scales is null ? none : WholeView(scales), KernelArg.Struct(VecArgHost.Of(scales)),
            WholeView(q), ViewAt(d, d.ElementCount), KernelArg.Struct(a), bias is null ? none : WholeView(bias), KernelArg.Struct(VecArgHost.Of(bias)),
            res is null ? none : WholeView(res), KernelArg.Struct(rl), mul is null ? none : WholeView(mul), KernelArg.Struct(ml),
            WholeView(dst), KernelArg.Struct(l[1])];
        if (m < GemvMaxRows || k == 0) RunBlocks("QuantKernels.Gemv", ((long)m * n + 7) / 8, args);
        else RunBlocks("QuantKernels.Gemm", (long)((m + 63) / 64) * ((n + 63) / 64), args);
    }
}

/// <summary>The host mirror of Tessera.Kernels.QMatArgs (same fields, same order; a test compares them).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct QMatArgsArg
{
    public long WOffset, RowBytes;
    public long XColStride, RColStride, DColStride, MColStride;
    public int M, N, K;
    public int KPad;
    public int Groups, GroupSize;
    public int WType;
    public int Act;
    public int HasResidual;
    public int HasMultiplier;
}
