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

    /// <summary>Allocates memory whose contents are undefined: for an op's output that the op writes entirely
    /// (zeroing a large output first costs a pass over memory). Backends that cannot skip the zeroing need not
    /// implement it.</summary>
    Storage AllocateUninitialized(long byteLength) => Allocate(byteLength);

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
    /// shape (transposed operands come as strided views). The epilogue's residual and multiplier come broadcast to
    /// dst's shape: out = act(a @ b + bias) * multiplier + residual.</summary>
    void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue);

    /// <summary>dst[..., N] = epilogue(x[..., K] @ dequantize(w)^T) for a quantized weight w [N, K]: a block type
    /// (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K; blocks run along K, as in GGUF), or I8 with per-row f32
    /// <paramref name="scales"/> [N] (symmetric per-output-channel). x is f32 or bf16, dst f32 or x's dtype.</summary>
    void QuantizedMatMul(Tensor x, Tensor w, Tensor? scales, Tensor dst, MatMulEpilogue epilogue) =>
        throw new TesseraException($"the {Name} backend has no quantized matmul yet ({w.DType.Name()} weight {w.Shape})");

    /// <summary>Scaled dot-product attention, never materialising the score matrix where the backend can avoid it:
    /// dst[b, h, i] = softmax_j(scale q[b, h, i] . k[b, h / (Hq / Hkv), j] + mask[b, h, i, j]) v[b, h / (Hq / Hkv), j],
    /// with q [B, Hq, Sq, D], k and v [B, Hkv, Skv, D] (Hkv divides Hq: grouped- and multi-query attention), any
    /// strides (a [B, S, H, D] tensor permuted as a view works), the causal and window limits of
    /// <paramref name="options"/>, an optional additive mask already broadcast to [B, Hq, Sq, Skv] (stride-0 views),
    /// dst [B, Hq, Sq, D] contiguous, and optionally the natural log-sum-exp of each row's scaled scores into
    /// <paramref name="logSumExp"/> [B, Hq, Sq] f32 (what merges partial results, as ring attention does).</summary>
    void Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, AttentionOptions options, Tensor dst, Tensor? logSumExp) =>
        throw new TesseraException($"the {Name} backend has no attention yet (q {q.Shape}, k {k.Shape})");

    /// <summary>Attention over a paged KV cache, for a batch of sequences of different lengths in one call:
    /// q [N, Hq, Sq, D] (sequence n uses its first queryLens[n] rows, or all Sq when queryLens is null; those are its
    /// last tokens, so causal alignment is bottom-right per sequence), kPool and vPool [numBlocks, Hkv, blockSize, D],
    /// blockTables int32 [N, maxBlocks] (token t of sequence n lives in block blockTables[n, t / blockSize] at
    /// slot t % blockSize), seqLens int32 [N] (keys of each sequence), dst [N, Hq, Sq, D] contiguous; rows past a
    /// sequence's query length are left as they are.</summary>
    void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor blockTables, Tensor seqLens, Tensor? queryLens,
        AttentionOptions options, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no paged attention yet (q {q.Shape}, pool {kPool.Shape})");

    /// <summary>Softmax over the last axis of x * scale + mask (mask has x's shape or is null).</summary>
    void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst);

    /// <summary>LayerNorm over the last axis with optional weight and bias of shape [D].</summary>
    void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst);

    /// <summary>RMSNorm over the last axis with optional weight of shape [D].</summary>
    void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst);

    /// <summary>Rotary embedding of x [..., S, D]: the first 2 * cos.Shape[^1] channels of each row are rotated by
    /// the angles whose cosines and sines are cos and sin; the remaining channels pass through. The f32 tables are
    /// either [S, R/2] (one table for every leading index of x) or have x's rank, x's leading and S axes and R/2 last
    /// ([..., S, R/2], usually stride-0 views broadcast from [B, 1, S, R/2]): per-sequence positions, as when a batch
    /// of sequences sits at different offsets of a KV cache.</summary>
    void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst);

    /// <summary>dst[i..., :] = table[ids[i...], :] for a 2-D table and integer ids.</summary>
    void Gather(Tensor table, Tensor ids, Tensor dst);

    /// <summary>dst = op(a, b) as U8 1 or 0; a and b have dst's shape (broadcast views), one element dtype (float or
    /// integer, any strides); dst contiguous. NaN compares false except under NotEqual.</summary>
    void Compare(CompareOp op, Tensor a, Tensor b, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no compare yet ({op}: {a.DType.Name()} {a.Shape})");

    /// <summary>dst = condition != 0 ? a : b element by element; condition U8, a, b broadcast to dst's shape (views,
    /// any strides), a, b and dst of one element dtype; dst contiguous.</summary>
    void Where(Tensor condition, Tensor a, Tensor b, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no where yet ({a.DType.Name()} {dst.Shape})");

    /// <summary>dst[.., i, ..] = x[.., ids[i], ..] along <paramref name="axis"/>: ids 1-D I32 or I64, x any plain
    /// element dtype and any strides, dst contiguous with x's shape but ids.Length on that axis. The front end checks
    /// the ids of host tensors; a device backend may clamp an id that is out of range instead of failing.</summary>
    void IndexSelect(Tensor x, Tensor ids, int axis, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no index_select yet (x {x.Shape}, axis {axis}, ids {ids.Shape})");

    /// <summary>The k largest (or smallest) entries of each last-axis row of x: values [.., k] in x's dtype and
    /// indices [.., k] I32, both contiguous, sorted (largest first when <paramref name="largest"/>, smallest first
    /// otherwise), ties broken by the lower index first (ONNX TopK's rule). NaN ranks above every number, +inf
    /// included (as PyTorch's sort), so it comes first when largest and last otherwise.</summary>
    void TopK(Tensor x, int k, bool largest, Tensor values, Tensor indices) =>
        throw new TesseraException($"the {Name} backend has no top_k yet (x {x.Shape}, k {k})");

    /// <summary>Group normalisation of x [B, C, *spatial] (rank >= 2, any strides, float): the C channels split into
    /// <paramref name="groups"/> groups of C/groups; each group of each batch entry is normalised by its mean and
    /// biased variance over its (C/groups) x spatial elements, then channel c is scaled by weight[c] and shifted by
    /// bias[c] (each [C] or null). dst contiguous, x's shape, a float dtype.</summary>
    void GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no group_norm yet (x {x.Shape}, groups {groups})");

    /// <summary>Reduces x over one axis into dst (x's shape with that axis set to 1).</summary>
    void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst);

    /// <summary>2-D convolution, NCHW.</summary>
    void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst);

    /// <summary>Transposed 2-D convolution, NCHW: x [B, C, H, W], weight [C, O/groups, kH, kW], optional bias [O],
    /// dst [B, O, OH, OW] with OH = (H - 1) strideH - 2 padH + dilationH (kH - 1) + outputPadH + 1. A default body so
    /// that backends without it still compile; they refuse it with a clear error.</summary>
    void ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, ConvTranspose2dParams p, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no conv_transpose2d yet (x {x.Shape}, weight {weight.Shape})");

    /// <summary>Patch embedding: x [B, C, H, W], weight [D, C, P, P], dst [B, (H/P)*(W/P), D]; a convolution
    /// whose kernel equals its stride, as one GEMM.</summary>
    void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst);

    /// <summary>2-D pooling of x [B, C, H, W] into dst [B, C, OH, OW] (windows of <paramref name="p"/>, no ceil mode).
    /// A default body so that backends without pooling still compile; they refuse it with a clear error.</summary>
    void Pool2d(PoolOp op, Tensor x, Pool2dParams p, Tensor dst) =>
        throw new TesseraException($"the {Name} backend has no {op.ToString().ToLowerInvariant()} pooling yet (x {x.Shape}, {p})");

    /// <summary>An ONNX LSTM (default activations: sigmoid gates, tanh cell and output) over a sequence-first batch,
    /// every direction of <paramref name="options"/> at once. x [S, B, I] (any strides, float); w [D, 4H, I] and
    /// r [D, 4H, H] with gate blocks in ONNX's order i, o, f, c (PyTorch's nn.LSTM stores i, f, g, o: loaders reorder);
    /// optional b [D, 8H] (Wb then Rb, same order), seqLens int32 [B] (each in 0..S, checked by the front end),
    /// initialH and initialC [D, B, H], peepholes p [D, 3H] (i, o, f). Direction d runs backwards when
    /// <see cref="LstmOptions.IsReverse"/>; a reverse direction starts at step seqLens[b] - 1 of each row. Per step,
    /// with g = x_t W^T + h R^T + Wb + Rb: i = sig(g_i + P_i c), f = sig(g_f + P_f c) (or 1 - i with InputForget),
    /// c' = f c + i tanh(g_c), o = sig(g_o + P_o c'), h' = o tanh(c'); with a clip, each gate's whole pre-activation is
    /// clamped to [-clip, clip]. Outputs are contiguous, batch-first layouts are the front end's concern: y
    /// [S, D, B, H] gets h' at every valid step and 0 at steps past a row's length; yH and yC [D, B, H] get the
    /// states after each row's last valid step (the initial states for a row of length 0). A default body so that
    /// backends without it still compile; they refuse it with a clear error.</summary>
    void Lstm(Tensor x, Tensor w, Tensor r, Tensor? b, Tensor? seqLens, Tensor? initialH, Tensor? initialC, Tensor? p,
        LstmOptions options, Tensor y, Tensor yH, Tensor yC) =>
        throw new TesseraException($"the {Name} backend has no lstm yet (x {x.Shape}, w {w.Shape})");

    /// <summary>Nearest-neighbour upsampling by whole factors, optionally summed with an addend in the same pass:
    /// dst[b, c, y, x] = x[b, c, y / scaleH, x / scaleW] (+ addend[b, c, y, x]), x [B, C, H, W] and addend (null or
    /// dst's shape) any strides, dst [B, C, H scaleH, W scaleW] contiguous, one dtype throughout. A default body
    /// built from a broadcast view, Copy and Binary, so every backend has it.</summary>
    void UpsampleNearest(Tensor x, Tensor? addend, int scaleH, int scaleW, Tensor dst) =>
        Tensor.UpsampleNearestByViews(this, x, addend, scaleH, scaleW, dst);

    /// <summary>Bicubic resampling of x [B, C, H, W] into dst [B, C, H2, W2] (PyTorch's a = -0.75).</summary>
    void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst);
}
