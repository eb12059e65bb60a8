using System.Runtime.InteropServices;

namespace Tessera.Cuda;

// MatMul through GemmKernels.Tiled (64x64 tiles, 256 threads, 4x4 outputs a thread): any strides for a, b and the
// residual and multiplier (transposes and stride-0 broadcasts cost no copy), f32/f16/bf16 operands with f32
// accumulation, any float dst, and the epilogue act(a @ b + bias) * multiplier + residual fused into the store.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue)
    {
        int rank = dst.Rank;
        Require(rank >= 2 && a.Rank == rank && b.Rank == rank,
            $"matmul: a {a.Shape}, b {b.Shape} and dst {dst.Shape} must have the same rank (at least 2), batch axes broadcast");
        int m = a.Shape[-2], k = a.Shape[-1], n = b.Shape[-1];
        Require(b.Shape[-2] == k && dst.Shape[-2] == m && dst.Shape[-1] == n, $"matmul: a {a.Shape} @ b {b.Shape} does not give dst {dst.Shape}");
        for (int d = 0; d < rank - 2; d++)
            Require(a.Shape[d] == dst.Shape[d] && b.Shape[d] == dst.Shape[d],
                $"matmul: batch axes of a {a.Shape}, b {b.Shape} and dst {dst.Shape} must match (broadcast them first)");
        foreach (var t in (ReadOnlySpan<Tensor>)[a, b, dst])
            Require(t.DType is DType.F32 or DType.F16 or DType.BF16, $"matmul: {t.DType.Name()} {t.Shape} is not f32, f16 or bf16");
        Require(dst.IsContiguous, $"matmul: dst {dst.Shape} must be contiguous");
        var res = epilogue.Residual;
        var mul = epilogue.Multiplier;
        var bias = epilogue.Bias;
        Require(res is null || (res.Shape.Equals(dst.Shape) && IsPlainFloat(res.DType)),
            $"matmul: residual {res?.DType.Name()} {res?.Shape} must be a float tensor of dst's shape {dst.Shape}");
        Require(mul is null || (mul.Shape.Equals(dst.Shape) && IsPlainFloat(mul.DType)),
            $"matmul: multiplier {mul?.DType.Name()} {mul?.Shape} must be a float tensor of dst's shape {dst.Shape}");
        Require(bias is null || (bias.Rank == 1 && bias.Shape[0] == n && IsPlainFloat(bias.DType)),
            $"matmul: bias {bias?.DType.Name()} {bias?.Shape} must be a float vector [{n}]");
        if (dst.ElementCount == 0) return;

        var batchShape = new Shape(dst.Shape.Dims[..(rank - 2)]);
        // One layout each for a, b, dst and whichever of residual and multiplier are present (the kernel ignores
        // the layout of an absent one; dst's stands in).
        var operands = new List<Tensor> { a, b, dst };
        if (res is not null) operands.Add(res);
        if (mul is not null) operands.Add(mul);
        var l = StridedLayoutArg.For("matmul", batchShape, [.. operands]);
        var rl = res is null ? l[2] : l[3];
        var ml = mul is null ? l[2] : l[^1];
        var g = new GemmArgsArg
        {
            M = m, N = n, K = k, Batch = checked((int)batchShape.ElementCount),
            ARs = a.Strides[^2], ACs = a.Strides[^1], BRs = b.Strides[^2], BCs = b.Strides[^1],
            Act = ActivationCode(epilogue.Activation),
            BiasDType = bias is null ? -1 : (int)bias.DType, BiasOffset = bias?.Offset ?? 0, BiasStride = bias is null ? 0 : bias.Strides[0],
            HasResidual = res is null ? 0 : 1, RRs = res is null ? 0 : res.Strides[^2], RCs = res is null ? 0 : res.Strides[^1],
            HasMultiplier = mul is null ? 0 : 1, MRs = mul is null ? 0 : mul.Strides[^2], MCs = mul is null ? 0 : mul.Strides[^1],
        };
        long tiles = (long)g.Batch * ((m + 63) / 64) * ((n + 63) / 64);
        var none = KernelArg.View(0, 0);
        RunBlocks("GemmKernels.Tiled", tiles, WholeView(a), KernelArg.Struct(l[0]), WholeView(b), KernelArg.Struct(l[1]),
            WholeView(dst), KernelArg.Struct(l[2]), bias is null ? none : WholeView(bias), res is null ? none : WholeView(res),
            KernelArg.Struct(rl), mul is null ? none : WholeView(mul), KernelArg.Struct(ml), KernelArg.Struct(g));
    }

    /// <summary>Tessera's Activation as the kernels' unary op code (OpCodes), -1 for none.</summary>
    private static int ActivationCode(Activation act) => act switch
    {
        Activation.None => -1,
        Activation.Gelu => (int)UnaryOp.Gelu,
        Activation.GeluTanh => (int)UnaryOp.GeluTanh,
        Activation.QuickGelu => (int)UnaryOp.QuickGelu,
        Activation.Silu => (int)UnaryOp.Silu,
        Activation.Relu => (int)UnaryOp.Relu,
        Activation.HardSwish => (int)UnaryOp.HardSwish,
        _ => throw new TesseraException($"cuda: activation {act} has no kernel code"),
    };

    private static bool IsPlainFloat(DType t) => t is DType.F32 or DType.F16 or DType.BF16;

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new TesseraException(message);
    }

    /// <summary>Launches a kernel that walks <paramref name="work"/> units (tiles, rows) with a grid-stride loop over
    /// blocks: the block size is the manifest's BlockX, the grid at most 64 blocks per SM.</summary>
    private void RunBlocks(string kernel, long work, params ReadOnlySpan<KernelArg> args)
    {
        Bind();
        var meta = _kernels.Meta(kernel);
        uint block = (uint)(meta.BlockX > 0 ? meta.BlockX : 256);
        long blocks = Math.Clamp(work, 1, (long)Info.Multiprocessors * 64);
        _kernels.Launch(kernel, _stream, ((uint)blocks, 1, 1), (block, (uint)Math.Max(meta.BlockY, 1), 1), 0, args);
    }
}

/// <summary>The host mirror of Tessera.Kernels.GemmArgs (same fields, same order; a test compares them).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GemmArgsArg
{
    public long ARs, ACs, BRs, BCs, RRs, RCs, BiasOffset, BiasStride, MRs, MCs;
    public int M, N, K, Batch;
    public int Act;
    public int BiasDType;
    public int HasResidual;
    public int HasMultiplier;
}
