using System.Runtime.InteropServices;

namespace Tessera.Cuda;

// Ops over the last axis, one block a row: softmax (SoftmaxKernels), LayerNorm and RMSNorm (NormKernels) and RoPE
// (RopeKernels); and GroupNorm (NormKernels), one block per (batch, group). Rows are addressed by a StridedLayout over the leading axes (merged where contiguous) plus the
// stride along the row, so inputs, masks and outputs may be any strided float views; weights, biases and the
// RoPE tables are read in place through their dtype and strides (VecArg, or layouts of stride-0 views).
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst)
    {
        CheckRows("softmax", x, dst);
        Require(mask is null || (mask.Shape.Equals(x.Shape) && IsPlainFloat(mask.DType)),
            $"softmax: mask {mask?.DType.Name()} {mask?.Shape} must have x's shape {x.Shape}");
        if (x.ElementCount == 0) return;
        var m = mask ?? x;
        var l = RowLayouts("softmax", x, m, dst);
        long rows = RowCount(x);
        RunBlocks("SoftmaxKernels.Rows", rows, WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[^1]),
            WholeView(m), KernelArg.Struct(l[1]), KernelArg.Scalar(m.Strides[^1]), KernelArg.Scalar(mask is null ? 0 : 1),
            WholeView(dst), KernelArg.Struct(l[2]), KernelArg.Scalar(dst.Strides[^1]), KernelArg.Scalar(rows),
            KernelArg.Scalar(x.Shape[-1]), KernelArg.Scalar(scale));
    }

    /// <inheritdoc/>
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst)
    {
        CheckRows("layer_norm", x, dst);
        CheckVector("layer_norm", weight, x.Shape[-1]);
        CheckVector("layer_norm", bias, x.Shape[-1]);
        if (x.ElementCount == 0) return;
        var l = RowLayouts("layer_norm", x, dst);
        long rows = RowCount(x);
        RunBlocks("NormKernels.LayerNorm", rows, WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[^1]),
            WholeView(dst), KernelArg.Struct(l[1]), KernelArg.Scalar(dst.Strides[^1]),
            VecView(weight), KernelArg.Struct(VecArgHost.Of(weight)), VecView(bias), KernelArg.Struct(VecArgHost.Of(bias)),
            KernelArg.Scalar(rows), KernelArg.Scalar(x.Shape[-1]), KernelArg.Scalar(eps));
    }

    /// <inheritdoc/>
    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst)
    {
        CheckRows("rms_norm", x, dst);
        CheckVector("rms_norm", weight, x.Shape[-1]);
        if (x.ElementCount == 0) return;
        var l = RowLayouts("rms_norm", x, dst);
        long rows = RowCount(x);
        RunBlocks("NormKernels.RmsNorm", rows, WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[^1]),
            WholeView(dst), KernelArg.Struct(l[1]), KernelArg.Scalar(dst.Strides[^1]),
            VecView(weight), KernelArg.Struct(VecArgHost.Of(weight)), KernelArg.Scalar(rows), KernelArg.Scalar(x.Shape[-1]), KernelArg.Scalar(eps));
    }

    /// <inheritdoc/>
    public void GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, Tensor dst)
    {
        Require(x.Rank >= 2 && x.Shape.Equals(dst.Shape) && IsPlainFloat(x.DType) && IsPlainFloat(dst.DType) && dst.IsContiguous,
            $"group_norm: x {x.DType.Name()} {x.Shape} [B, C, ...] and dst {dst.DType.Name()} {dst.Shape} must be float tensors of one shape, dst contiguous");
        int c = x.Shape[1];
        Require(groups > 0 && c % groups == 0, $"group_norm: {c} channels of x {x.Shape} do not split into {groups} groups");
        CheckVector("group_norm", weight, c);
        CheckVector("group_norm", bias, c);
        if (x.ElementCount == 0) return;
        long spatial = x.ElementCount / ((long)x.Shape[0] * c);
        long total = (long)x.Shape[0] * groups;
        var l = StridedLayoutArg.For("group_norm", x.Shape, x, dst);
        RunBlocks("NormKernels.GroupNorm", total, WholeView(x), KernelArg.Struct(l[0]), WholeView(dst), KernelArg.Struct(l[1]),
            VecView(weight), KernelArg.Struct(VecArgHost.Of(weight)), VecView(bias), KernelArg.Struct(VecArgHost.Of(bias)),
            KernelArg.Scalar(total), KernelArg.Scalar(groups), KernelArg.Scalar(c / groups), KernelArg.Scalar(spatial), KernelArg.Scalar(eps));
    }

    /// <inheritdoc/>
    /// <remarks>cos and sin may be [S, R/2] or carry leading axes that broadcast to x's ([B, 1, S, R/2] for a batch of
    /// sequences at different positions); they are read in place as stride-0 views over x's rows.</remarks>
    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst)
    {
        Require(x.Rank >= 2, $"rope: x {x.Shape} must be [..., S, D]");
        CheckRows("rope", x, dst);
        int s = x.Shape[-2], d = x.Shape[-1];
        Require(cos.Rank >= 2 && cos.Rank <= x.Rank && cos.Shape.Equals(sin.Shape) && cos.Shape[-2] == s && 2 * cos.Shape[-1] <= d
                && IsPlainFloat(cos.DType) && IsPlainFloat(sin.DType) && Broadcasts(cos.Shape, x.Shape.With(-1, cos.Shape[-1])),
            $"rope: x {x.Shape} needs float cos and sin [..., S={s}, R/2] with R <= {d} and leading axes that broadcast to x's, got {cos.DType.Name()} {cos.Shape} and {sin.DType.Name()} {sin.Shape}");
        if (x.ElementCount == 0) return;
        int half = cos.Shape[-1];
        using var cb = cos.BroadcastTo(x.Shape.With(-1, half));
        using var sb = sin.BroadcastTo(x.Shape.With(-1, half));
        var l = RowLayouts("rope", x, dst, cb, sb);
        long rows = RowCount(x);
        RunBlocks("RopeKernels.Rows", rows, WholeView(x), KernelArg.Struct(l[0]), KernelArg.Scalar(x.Strides[^1]),
            WholeView(dst), KernelArg.Struct(l[1]), KernelArg.Scalar(dst.Strides[^1]),
            WholeView(cos), KernelArg.Struct(l[2]), KernelArg.Scalar(cb.Strides[^1]), WholeView(sin), KernelArg.Struct(l[3]),
            KernelArg.Scalar(sb.Strides[^1]), KernelArg.Scalar(rows), KernelArg.Scalar(d), KernelArg.Scalar(half),
            KernelArg.Scalar(mode == RopeMode.RotateHalf ? 0 : 1));
    }

    /// <summary>Whether <paramref name="from"/> broadcasts to <paramref name="to"/> (NumPy's rule, right-aligned).</summary>
    private static bool Broadcasts(Shape from, Shape to)
    {
        if (from.Rank > to.Rank) return false;
        for (int i = 1; i <= from.Rank; i++)
            if (from[-i] != 1 && from[-i] != to[-i]) return false;
        return true;
    }

    private static void CheckRows(string op, Tensor x, Tensor dst) =>
        Require(x.Shape.Equals(dst.Shape) && x.Rank >= 1 && IsPlainFloat(x.DType) && IsPlainFloat(dst.DType),
            $"{op}: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float tensors of one shape");

    private static void CheckVector(string op, Tensor? v, int n) =>
        Require(v is null || (v.Rank == 1 && v.Shape[0] == n && IsPlainFloat(v.DType)),
            $"{op}: weight/bias {v?.DType.Name()} {v?.Shape} must be a float vector [{n}]");

    /// <summary>Layouts of the rows (the leading axes) of operands that share x's shape.</summary>
    private static StridedLayoutArg[] RowLayouts(string op, Tensor x, params ReadOnlySpan<Tensor> others)
    {
        var all = new Tensor[others.Length + 1];
        all[0] = x;
        others.CopyTo(all.AsSpan(1));
        return StridedLayoutArg.For(op, new Shape(x.Shape.Dims[..^1]), all);
    }

    private static long RowCount(Tensor x) => x.ElementCount / x.Shape[-1];

    private KernelArg VecView(Tensor? v) => v is null ? KernelArg.View(0, 0) : WholeView(v);
}

/// <summary>The host mirror of Tessera.Kernels.VecArg: a vector (Stride) or matrix (RowStride, Stride) operand in
/// place, or DType -1 for an absent one.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VecArgHost
{
    public long Offset, Stride, RowStride;
    public int DType, Pad;

    public static VecArgHost Of(Tensor? t) => t is null ? new VecArgHost { DType = -1 } : new VecArgHost
    {
        Offset = t.Offset, DType = (int)t.DType,
        Stride = t.Strides[^1], RowStride = t.Rank >= 2 ? t.Strides[^2] : 0,
    };
}
