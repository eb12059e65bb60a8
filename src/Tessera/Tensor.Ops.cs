namespace Tessera;

// The op front end: checks shapes, dtypes and devices, allocates the output, broadcasts operands as views,
// then calls the backend. Every result is a new contiguous tensor the caller disposes.
public sealed partial class Tensor
{
    // Op outputs are written entirely by the op: no zeroing pass (the tests poison them to prove it).
    private Tensor NewLike(Shape shape, DType? dtype = null) => Empty(Backend, dtype ?? DType, shape);

    private void SameBackend(string op, Tensor other)
    {
        other.ThrowIfDisposed();
        if (!ReferenceEquals(other.Backend, Backend))
            throw new TesseraException($"{op}: operands are on different backends ({Device} {Shape} and {other.Device} {other.Shape}); move one with ToBackend");
    }

    private void RequireFloat(string op)
    {
        ThrowIfDisposed();
        if (!DType.IsFloat()) throw new TesseraException($"{op} needs a floating-point tensor, got {DType.Name()} {Shape}");
    }

    /// <summary>Element-wise function.</summary>
    public Tensor Map(UnaryOp op)
    {
        RequireFloat(op.ToString());
        var dst = NewLike(Shape);
        Backend.Unary(op, this, dst);
        return dst;
    }

    /// <summary>Element-wise function of two operands with NumPy broadcasting; the dtypes must match.</summary>
    public Tensor Zip(BinaryOp op, Tensor other)
    {
        RequireFloat(op.ToString());
        SameBackend(op.ToString(), other);
        if (other.DType != DType)
            throw new TesseraException($"{op}: dtypes differ ({DType.Name()} {Shape} and {other.DType.Name()} {other.Shape})");
        var shape = Shape.Broadcast(Shape, other.Shape);
        using var a = BroadcastTo(shape);
        using var b = other.BroadcastTo(shape);
        var dst = NewLike(shape);
        Backend.Binary(op, a, b, dst);
        return dst;
    }

    /// <summary>a + b (broadcast).</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Zip(BinaryOp.Add, b);
    /// <summary>a - b (broadcast).</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Zip(BinaryOp.Sub, b);
    /// <summary>a * b element-wise (broadcast).</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Zip(BinaryOp.Mul, b);
    /// <summary>a / b (broadcast).</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Zip(BinaryOp.Div, b);

    /// <summary>x * mul + add.</summary>
    public Tensor Affine(double mul, double add = 0)
    {
        RequireFloat("affine");
        var dst = NewLike(Shape);
        Backend.Affine(this, dst, mul, add);
        return dst;
    }

    /// <summary>Exact GELU.</summary>
    public Tensor Gelu() => Map(UnaryOp.Gelu);
    /// <summary>tanh-approximated GELU.</summary>
    public Tensor GeluTanh() => Map(UnaryOp.GeluTanh);
    /// <summary>x * sigmoid(1.702 x).</summary>
    public Tensor QuickGelu() => Map(UnaryOp.QuickGelu);
    /// <summary>x * sigmoid(x).</summary>
    public Tensor Silu() => Map(UnaryOp.Silu);
    /// <summary>x * relu6(x + 3) / 6.</summary>
    public Tensor HardSwish() => Map(UnaryOp.HardSwish);
    /// <summary>relu6(x + 3) / 6.</summary>
    public Tensor HardSigmoid() => Map(UnaryOp.HardSigmoid);

    /// <summary>Matrix product over the last two axes, batch axes broadcast: [..., M, K] @ [..., K, N] -> [..., M, N],
    /// then the epilogue (bias [N], activation, then multiplier and residual broadcast to the output). A rank-1 right
    /// operand is treated as [K, 1] and dropped from the result, as in NumPy.</summary>
    public Tensor MatMul(Tensor b, MatMulEpilogue? epilogue = null)
    {
        ThrowIfDisposed();
        SameBackend("matmul", b);
        epilogue ??= MatMulEpilogue.None;
        if (Rank < 2 || b.Rank < 1)
            throw new TesseraException($"matmul needs [..., M, K] @ [..., K, N], got {Shape} @ {b.Shape}");
        bool vec = b.Rank == 1;
        using var bm = vec ? b.Unsqueeze(1) : b.Share();
        int m = Shape[-2], k = Shape[-1], kb = bm.Shape[-2], n = bm.Shape[-1];
        if (k != kb) throw new TesseraException($"matmul {Shape} @ {b.Shape}: inner dimensions differ ({k} vs {kb})");
        if (DType != bm.DType && !(DType == DType.F32 && bm.DType is DType.BF16 or DType.F16))
            throw new TesseraException($"matmul {DType.Name()} {Shape} @ {b.DType.Name()} {b.Shape}: dtypes must match (or f32 @ bf16/f16 weights)");
        if (!DType.IsFloat() || !bm.DType.IsFloat())
            throw new TesseraException($"matmul {DType.Name()} {Shape} @ {b.DType.Name()} {b.Shape}: floating-point operands only (quantized matmul has its own op)");
        var batchA = new Shape(Shape.Dims[..^2]);
        var batchB = new Shape(bm.Shape.Dims[..^2]);
        Shape batch;
        try { batch = Shape.Broadcast(batchA, batchB); }
        catch (TesseraException e) { throw new TesseraException($"matmul {Shape} @ {b.Shape}: batch dimensions do not broadcast ({e.Message})", e); }
        var outShape = BatchShape(batch, m, n);
        if (epilogue.Bias is { } bias)
        {
            SameBackend("matmul bias", bias);
            if (bias.Rank != 1 || bias.Shape[0] != n)
                throw new TesseraException($"matmul {Shape} @ {b.Shape}: bias must be [{n}], got {bias.Shape}");
        }
        using var res = EpilogueOperand("matmul residual", epilogue.Residual, outShape);
        using var mul = EpilogueOperand("matmul multiplier", epilogue.Multiplier, outShape);
        using var a2 = BroadcastTo(BatchShape(batch, m, k));
        using var b2 = bm.BroadcastTo(BatchShape(batch, k, n));
        var dst = NewLike(outShape, DType == DType.F32 ? DType.F32 : DType);
        Backend.MatMul(a2, b2, dst, WithViews(epilogue, res, mul));
        if (!vec) return dst;
        using (dst) return dst.Squeeze(-1);
    }

    /// <summary>A linear layer, x[..., K] @ weight^T with weight [N, K] as Hugging Face and GGUF store it, then the
    /// epilogue. Float weights go through <see cref="MatMul"/> (a transposed view, no copy); block-quantized weights
    /// (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) and I8 weights with per-row <paramref name="scales"/> [N] go through the
    /// backend's quantized matmul.</summary>
    public Tensor Linear(Tensor weight, MatMulEpilogue? epilogue = null, Tensor? scales = null)
    {
        RequireFloat("linear");
        SameBackend("linear", weight);
        epilogue ??= MatMulEpilogue.None;
        if (weight.Rank != 2 || weight.Shape[1] != Shape[-1])
            throw new TesseraException($"linear: x {Shape} needs a weight [N, {Shape[-1]}], got {weight.DType.Name()} {weight.Shape}");
        if (weight.DType.IsFloat() && scales is null)
        {
            using var wt = weight.T;
            return MatMul(wt, epilogue);
        }
        bool int8 = weight.DType == DType.I8;
        if (!(weight.DType.IsBlock() && weight.DType != DType.Q8_K && scales is null) && !(int8 && scales is not null))
            throw new TesseraException($"linear: weight {weight.DType.Name()} {weight.Shape} needs to be float, a GGUF block type, or i8 with per-row scales{(scales is null ? "" : $" (scales {scales.Shape} given)")}");
        if (scales is not null && (scales.Rank != 1 || scales.Shape[0] != weight.Shape[0] || scales.DType != DType.F32))
            throw new TesseraException($"linear: i8 weight {weight.Shape} needs f32 scales [{weight.Shape[0]}], got {scales.DType.Name()} {scales.Shape}");
        if (!weight.IsContiguous) throw new TesseraException($"linear: quantized weight {weight.DType.Name()} {weight.Shape} must be contiguous");
        int n = weight.Shape[0];
        if (epilogue.Bias is { } bias && (bias.Rank != 1 || bias.Shape[0] != n))
            throw new TesseraException($"linear {Shape} with weight {weight.Shape}: bias must be [{n}], got {bias.Shape}");
        var outShape = Shape.With(-1, n);
        using var res = EpilogueOperand("linear residual", epilogue.Residual, outShape);
        using var mul = EpilogueOperand("linear multiplier", epilogue.Multiplier, outShape);
        var dst = NewLike(outShape);
        Backend.QuantizedMatMul(this, weight, scales, dst, WithViews(epilogue, res, mul));
        return dst;
    }

    // [..batch, rows, cols] without LINQ: matmul runs per token in decoding.
    private static Shape BatchShape(Shape batch, int rows, int cols)
    {
        Span<int> dims = stackalloc int[batch.Rank + 2];
        batch.Dims.CopyTo(dims);
        dims[^2] = rows;
        dims[^1] = cols;
        return new Shape(dims);
    }

    // The residual or multiplier of an epilogue as a view broadcast to the output's shape.
    private Tensor? EpilogueOperand(string what, Tensor? t, Shape outShape)
    {
        if (t is null) return null;
        SameBackend(what, t);
        if (!t.DType.IsFloat()) throw new TesseraException($"{what} must be a float tensor, got {t.DType.Name()} {t.Shape}");
        try { return t.BroadcastTo(outShape); }
        catch (TesseraException e) { throw new TesseraException($"{what} {t.Shape} does not broadcast to the output {outShape} of {Shape}: {e.Message}", e); }
    }

    private static MatMulEpilogue WithViews(MatMulEpilogue e, Tensor? residual, Tensor? multiplier) =>
        residual is null && multiplier is null ? e : e with { Residual = residual, Multiplier = multiplier };

    /// <summary>Softmax over the last axis of x * scale + mask; the mask broadcasts to x.</summary>
    public Tensor Softmax(Tensor? mask = null, float scale = 1f)
    {
        RequireFloat("softmax");
        using var m = mask is null ? null : CheckedBroadcast("softmax mask", mask);
        var dst = NewLike(Shape);
        Backend.Softmax(this, m, scale, dst);
        return dst;
    }

    /// <summary>LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias.</summary>
    public Tensor LayerNorm(Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        RequireFloat("layer_norm");
        CheckVector("layer_norm weight", weight, Shape[-1]);
        CheckVector("layer_norm bias", bias, Shape[-1]);
        var dst = NewLike(Shape);
        Backend.LayerNorm(this, weight, bias, eps, dst);
        return dst;
    }

    /// <summary>RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight.</summary>
    public Tensor RmsNorm(Tensor? weight, float eps = 1e-6f)
    {
        RequireFloat("rms_norm");
        CheckVector("rms_norm weight", weight, Shape[-1]);
        var dst = NewLike(Shape);
        Backend.RmsNorm(this, weight, eps, dst);
        return dst;
    }

    /// <summary>Rows of this 2-D table picked by integer ids: [V, D] gathered by ids [...] -> [..., D].</summary>
    public Tensor Gather(Tensor ids)
    {
        ThrowIfDisposed();
        SameBackend("gather", ids);
        if (Rank != 2) throw new TesseraException($"gather: the table must be [V, D], got {Shape}");
        if (ids.DType is not (DType.I32 or DType.I64)) throw new TesseraException($"gather: ids must be i32 or i64, got {ids.DType.Name()} {ids.Shape}");
        var dst = NewLike(new Shape(ids.Shape.Dims.ToArray().Append(Shape[1]).ToArray()));
        Backend.Gather(this, ids, dst);
        return dst;
    }

    /// <summary>Reduces one axis (kept as size 1 when <paramref name="keepDim"/>).</summary>
    public Tensor Reduce(ReduceOp op, int axis, bool keepDim = false)
    {
        ThrowIfDisposed();
        if (op != ReduceOp.ArgMax) RequireFloat(op.ToString());
        int a = Shape.Axis(axis);
        var dst = NewLike(Shape.With(a, 1), op == ReduceOp.ArgMax ? DType.I32 : DType);
        Backend.Reduce(op, this, a, dst);
        if (keepDim) return dst;
        using (dst) return dst.Squeeze(a);
    }

    /// <summary>Sum over an axis.</summary>
    public Tensor Sum(int axis, bool keepDim = false) => Reduce(ReduceOp.Sum, axis, keepDim);
    /// <summary>Mean over an axis.</summary>
    public Tensor Mean(int axis, bool keepDim = false) => Reduce(ReduceOp.Mean, axis, keepDim);
    /// <summary>Maximum over an axis.</summary>
    public Tensor Max(int axis, bool keepDim = false) => Reduce(ReduceOp.Max, axis, keepDim);
    /// <summary>Index of the maximum over an axis (i32).</summary>
    public Tensor ArgMax(int axis, bool keepDim = false) => Reduce(ReduceOp.ArgMax, axis, keepDim);

    /// <summary>Joins tensors of equal shape but for one axis.</summary>
    public static Tensor Concat(int axis, params Tensor[] parts)
    {
        if (parts.Length == 0) throw new TesseraException("concat of no tensors");
        var first = parts[0];
        int a = first.Shape.Axis(axis);
        int total = 0;
        foreach (var p in parts)
        {
            first.SameBackend("concat", p);
            bool ok = p.Rank == first.Rank && p.DType == first.DType;
            for (int i = 0; ok && i < p.Rank; i++) ok = i == a || p.Shape[i] == first.Shape[i];
            if (!ok) throw new TesseraException($"concat on axis {axis}: {string.Join(" and ", parts.Select(t => t.DType.Name() + " " + t.Shape))} differ off that axis");
            total = checked(total + p.Shape[a]);
        }
        var dst = first.NewLike(first.Shape.With(a, total));
        int at = 0;
        foreach (var p in parts)
        {
            using var slot = dst.Narrow(a, at, p.Shape[a]);
            first.Backend.Copy(p, slot);
            at += p.Shape[a];
        }
        return dst;
    }

    /// <summary>2-D convolution of x [B, C, H, W] with weight [O, C/groups, kH, kW] and optional bias [O].</summary>
    public Tensor Conv2d(Tensor weight, Tensor? bias = null, Conv2dParams? p = null)
    {
        RequireFloat("conv2d");
        SameBackend("conv2d", weight);
        p ??= new Conv2dParams();
        if (Rank != 4 || weight.Rank != 4)
            throw new TesseraException($"conv2d needs x [B, C, H, W] and weight [O, C/groups, kH, kW], got {Shape} and {weight.Shape}");
        int c = Shape[1], o = weight.Shape[0];
        if (p.Groups <= 0 || c % p.Groups != 0 || o % p.Groups != 0 || weight.Shape[1] != c / p.Groups)
            throw new TesseraException($"conv2d: x {Shape} and weight {weight.Shape} do not fit groups={p.Groups}");
        if (p.StrideH <= 0 || p.StrideW <= 0 || p.DilationH <= 0 || p.DilationW <= 0 || p.PadH < 0 || p.PadW < 0)
            throw new TesseraException($"conv2d: invalid parameters {p}");
        if (weight.DType != DType) throw new TesseraException($"conv2d: x is {DType.Name()}, weight is {weight.DType.Name()}");
        CheckVector("conv2d bias", bias, o);
        int oh, ow;
        try
        {
            oh = Conv2dParams.OutputSize(Shape[2], weight.Shape[2], p.StrideH, p.PadH, p.DilationH);
            ow = Conv2dParams.OutputSize(Shape[3], weight.Shape[3], p.StrideW, p.PadW, p.DilationW);
        }
        catch (TesseraException e) { throw new TesseraException($"conv2d of x {Shape} with weight {weight.Shape}: {e.Message}", e); }
        var dst = NewLike(new Shape(Shape[0], o, oh, ow));
        Backend.Conv2d(this, weight, bias, p, dst);
        return dst;
    }

    /// <summary>Patch embedding (ViT): x [B, C, H, W], weight [D, C, P, P] -> [B, (H/P)*(W/P), D], patches in
    /// row-major order; H and W must be multiples of P.</summary>
    public Tensor PatchEmbed(Tensor weight, Tensor? bias = null)
    {
        RequireFloat("patch_embed");
        SameBackend("patch_embed", weight);
        if (Rank != 4 || weight.Rank != 4 || weight.Shape[1] != Shape[1] || weight.Shape[2] != weight.Shape[3])
            throw new TesseraException($"patch_embed needs x [B, C, H, W] and weight [D, C, P, P], got {Shape} and {weight.Shape}");
        int patch = weight.Shape[2];
        if (Shape[2] % patch != 0 || Shape[3] % patch != 0)
            throw new TesseraException($"patch_embed: image {Shape} is not a multiple of the patch size {patch} (weight {weight.Shape})");
        if (weight.DType != DType) throw new TesseraException($"patch_embed: x is {DType.Name()}, weight is {weight.DType.Name()}");
        CheckVector("patch_embed bias", bias, weight.Shape[0]);
        var dst = NewLike(new Shape(Shape[0], Shape[2] / patch * (Shape[3] / patch), weight.Shape[0]));
        Backend.PatchEmbed(this, weight, bias, patch, dst);
        return dst;
    }

    /// <summary>Bicubic resize of x [B, C, H, W] to [B, C, height, width] (PyTorch's mode="bicubic").</summary>
    public Tensor InterpolateBicubic(int height, int width, bool alignCorners = false)
    {
        RequireFloat("interpolate_bicubic");
        if (Rank != 4 || height <= 0 || width <= 0)
            throw new TesseraException($"interpolate_bicubic needs x [B, C, H, W] and a positive size, got {Shape} to {height}x{width}");
        var dst = NewLike(new Shape(Shape[0], Shape[1], height, width));
        Backend.InterpolateBicubic(this, alignCorners, dst);
        return dst;
    }

    private Tensor CheckedBroadcast(string what, Tensor t)
    {
        SameBackend(what, t);
        if (t.DType != DType) throw new TesseraException($"{what}: {t.DType.Name()} {t.Shape} does not match {DType.Name()} {Shape}");
        return t.BroadcastTo(Shape);
    }

    private void CheckVector(string what, Tensor? v, int length)
    {
        if (v is null) return;
        SameBackend(what, v);
        if (v.Rank != 1 || v.Shape[0] != length)
            throw new TesseraException($"{what} must be [{length}] to match {Shape}, got {v.Shape}");
        if (v.DType != DType && v.DType != DType.F32)
            throw new TesseraException($"{what} is {v.DType.Name()}, the input is {DType.Name()}");
    }
}
