namespace Tessera;

/// <summary>The op surface every backend implements, kept small like candle's backend trait: everything
/// else in the engine is built from these. The front end (<see cref="Tensor"/>'s methods) checks shapes and
/// dtypes, allocates the output and broadcasts operands to it as stride-0 views, so a backend sees inputs
/// that already have the output's shape; inputs may be strided views, outputs are contiguous unless noted.</summary>
public interface IBackend : IDisposable
{
    /// <summary>A short name: "cpu", "cuda".</summary>
    string Name { get; }

    /// <summary>The device this backend computes on.</summary>
    Device Device { get; }

    /// <summary>Allocates zeroed memory.</summary>
    Storage Allocate(long byteLength);

    /// <summary>Copies host bytes into storage.</summary>
    void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset);

    /// <summary>Copies storage bytes to the host.</summary>
    void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination);

    /// <summary>dst = src, element by element, converting dtype; both may be strided views of one shape.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>Sets every element of dst (possibly a strided view) to a value.</summary>
    void Fill(Tensor dst, double value);

    /// <summary>dst = op(x).</summary>
    void Unary(UnaryOp op, Tensor x, Tensor dst);

    /// <summary>dst = op(a, b); a and b have dst's shape (broadcast views).</summary>
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst);

    /// <summary>dst = x * mul + add.</summary>
    void Affine(Tensor x, Tensor dst, double mul, double add);

    /// <summary>dst[..., M, N] = epilogue(a[..., M, K] @ b[..., K, N]); a and b are views with dst's batch
    /// shape (transposed operands come as strided views).</summary>
    void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue);

    /// <summary>dst[..., N] = epilogue(x[..., K] @ dequantize(w)^T) for a quantized weight w [N, K]: a block type
    /// (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K; blocks run along K, as in GGUF), or I8 with per-row f32
    /// <paramref name="scales"/> [N] (symmetric per-output-channel). x is f32 or bf16, dst f32 or x's dtype.</summary>
    void QuantizedMatMul(Tensor x, Tensor w, Tensor? scales, Tensor dst, MatMulEpilogue epilogue) =>
        throw new TesseraException($"the {Name} backend has no quantized matmul yet ({w.DType.Name()} weight {w.Shape})");

    /// <summary>Softmax over the last axis of x * scale + mask (mask has x's shape or is null).</summary>
    void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst);

    /// <summary>LayerNorm over the last axis with optional weight and bias of shape [D].</summary>
    void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst);

    /// <summary>RMSNorm over the last axis with optional weight of shape [D].</summary>
    void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst);

    /// <summary>Rotary embedding of x [..., S, D]: the first 2 * cos.Shape[1] channels of each row are rotated by
    /// the angles whose cosines and sines are cos and sin [S, R/2]; the remaining channels pass through.</summary>
    void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst);

    /// <summary>dst[i..., :] = table[ids[i...], :] for a 2-D table and integer ids.</summary>
    void Gather(Tensor table, Tensor ids, Tensor dst);

    /// <summary>Reduces x over one axis into dst (x's shape with that axis set to 1).</summary>
    void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst);

    /// <summary>2-D convolution, NCHW.</summary>
    void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst);

    /// <summary>Patch embedding: x [B, C, H, W], weight [D, C, P, P], dst [B, (H/P)*(W/P), D]; a convolution
    /// whose kernel equals its stride, as one GEMM.</summary>
    void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst);

    /// <summary>2-D pooling of x [B, C, H, W] into dst [B, C, OH, OW] (windows of <paramref name="p"/>, no ceil mode).
    /// A default body so that backends without pooling still compile; they refuse it with a clear error.</summary>
    void Pool2d(PoolOp op, Tensor x, Pool2dParams p, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no {op.ToString().ToLowerInvariant()} pooling yet (x {x.Shape}, {p})");

    /// <summary>Bicubic resampling of x [B, C, H, W] into dst [B, C, H2, W2] (PyTorch's a = -0.75).</summary>
    void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst);
}
