namespace Tessera;

// The attention front end: shape and dtype checks with messages that name the shapes, then the backend op.
public sealed partial class Tensor
{
    /// <summary>Scaled dot-product attention of this q [B, Hq, Sq, D] over k, v [B, Hkv, Skv, D] (Hkv divides Hq),
    /// with an optional additive mask broadcastable to [B, Hq, Sq, Skv]; returns [B, Hq, Sq, D] in q's dtype.
    /// Inputs may be strided views, for example [B, S, H, D] tensors permuted to [B, H, S, D].</summary>
    public Tensor Attention(Tensor k, Tensor v, AttentionOptions? options = null, Tensor? mask = null) =>
        AttentionCore(k, v, options, mask, withLse: false).Output;

    /// <summary><see cref="Attention"/> that also returns each row's natural log-sum-exp of its scaled, masked scores
    /// [B, Hq, Sq] f32 (-inf for a row that sees no key): what partial attentions are merged with.</summary>
    public (Tensor Output, Tensor LogSumExp) AttentionWithLse(Tensor k, Tensor v, AttentionOptions? options = null, Tensor? mask = null)
    {
        var (o, lse) = AttentionCore(k, v, options, mask, withLse: true);
        return (o, lse!);
    }

    private (Tensor Output, Tensor? Lse) AttentionCore(Tensor k, Tensor v, AttentionOptions? options, Tensor? mask, bool withLse)
    {
        options ??= AttentionOptions.Default;
        const string op = "attention";
        RequireFloat(op);
        SameBackend(op, k); SameBackend(op, v);
        if (Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new TesseraException($"{op}: q, k and v must be [B, H, S, D], got q {Shape}, k {k.Shape}, v {v.Shape}");
        if (!k.DType.IsFloat() || !v.DType.IsFloat())
            throw new TesseraException($"{op}: k and v must be floating point, got {k.DType.Name()} {k.Shape} and {v.DType.Name()} {v.Shape}");
        int b = Dim(0), hq = Dim(1), sq = Dim(2), d = Dim(3), hkv = k.Dim(1), skv = k.Dim(2);
        if (!k.Shape.Equals(v.Shape))
            throw new TesseraException($"{op}: k {k.Shape} and v {v.Shape} must have the same shape");
        if (k.Dim(0) != b || k.Dim(3) != d)
            throw new TesseraException($"{op}: k {k.Shape} does not fit q {Shape} (batch and head dim must match)");
        if (hkv == 0 || hq % hkv != 0)
            throw new TesseraException($"{op}: the {hkv} kv heads of k {k.Shape} must divide the {hq} query heads of q {Shape}");
        CheckHeadDim(op, d);
        CheckOptions(op, options);
        var outShape = new Shape(b, hq, sq, d);
        Tensor? m = null;
        try
        {
            if (mask is not null)
            {
                SameBackend(op, mask);
                if (!mask.DType.IsFloat()) throw new TesseraException($"{op}: the mask must be floating point, got {mask.DType.Name()} {mask.Shape}");
                var full = new Shape(b, hq, sq, skv);
                try { if (!Shape.Broadcast(mask.Shape, full).Equals(full)) throw new TesseraException(""); }
                catch (TesseraException)
                {
                    throw new TesseraException($"{op}: mask {mask.Shape} does not broadcast to the score shape [B, Hq, Sq, Skv] = {full}");
                }
                m = mask.BroadcastTo(full);
            }
            var dst = NewLike(outShape);
            Tensor? lse = withLse ? Zeros(Backend, DType.F32, new Shape(b, hq, sq)) : null;
            try { Backend.Attention(this, k, v, m, options, dst, lse); }
            catch { dst.Dispose(); lse?.Dispose(); throw; }
            return (dst, lse);
        }
        finally { m?.Dispose(); }
    }

    /// <summary>Attention of this q [N, Hq, Sq, D] over a paged KV cache (see <see cref="IBackend.PagedAttention"/>):
    /// kPool, vPool [numBlocks, Hkv, blockSize, D], blockTables int32 [N, maxBlocks], seqLens int32 [N], optional
    /// queryLens int32 [N] (new tokens per sequence, at most Sq; rows past it come back as zeros).</summary>
    public Tensor PagedAttention(Tensor kPool, Tensor vPool, Tensor blockTables, Tensor seqLens,
        AttentionOptions? options = null, Tensor? queryLens = null)
    {
        options ??= AttentionOptions.Default;
        const string op = "paged attention";
        RequireFloat(op);
        foreach (var t in new[] { kPool, vPool, blockTables, seqLens }) SameBackend(op, t);
        if (queryLens is not null) SameBackend(op, queryLens);
        if (Rank != 4 || kPool.Rank != 4 || !kPool.Shape.Equals(vPool.Shape))
            throw new TesseraException($"{op}: q must be [N, Hq, Sq, D] and both pools [numBlocks, Hkv, blockSize, D], got q {Shape}, k pool {kPool.Shape}, v pool {vPool.Shape}");
        if (!kPool.DType.IsFloat() || !vPool.DType.IsFloat())
            throw new TesseraException($"{op}: the pools must be floating point, got {kPool.DType.Name()} and {vPool.DType.Name()}");
        int n = Dim(0), hq = Dim(1), d = Dim(3), hkv = kPool.Dim(1);
        if (kPool.Dim(3) != d) throw new TesseraException($"{op}: q {Shape} and pool {kPool.Shape} differ in head dim");
        if (hkv == 0 || hq % hkv != 0) throw new TesseraException($"{op}: the {hkv} kv heads of pool {kPool.Shape} must divide the {hq} query heads of q {Shape}");
        if (blockTables.DType != DType.I32 || blockTables.Rank != 2 || blockTables.Dim(0) != n)
            throw new TesseraException($"{op}: blockTables must be int32 [N, maxBlocks] with N = {n}, got {blockTables.DType.Name()} {blockTables.Shape}");
        if (seqLens.DType != DType.I32 || seqLens.Rank != 1 || seqLens.Dim(0) != n)
            throw new TesseraException($"{op}: seqLens must be int32 [{n}], got {seqLens.DType.Name()} {seqLens.Shape}");
        if (queryLens is not null && (queryLens.DType != DType.I32 || queryLens.Rank != 1 || queryLens.Dim(0) != n))
            throw new TesseraException($"{op}: queryLens must be int32 [{n}], got {queryLens.DType.Name()} {queryLens.Shape}");
        CheckHeadDim(op, d);
        CheckOptions(op, options);
        // Backends leave the rows past a sequence's query length alone: they must read as zeros.
        var dst = queryLens is null ? NewLike(Shape) : Zeros(Backend, DType, Shape);
        try { Backend.PagedAttention(this, kPool, vPool, blockTables, seqLens, queryLens, options, dst); }
        catch { dst.Dispose(); throw; }
        return dst;
    }

    private static void CheckHeadDim(string op, int d)
    {
        if (d < 1 || d > 256) throw new TesseraException($"{op}: head dim {d} is outside 1..256");
    }

    private static void CheckOptions(string op, AttentionOptions o)
    {
        if (o.WindowLeft < -1 || o.WindowRight < -1)
            throw new TesseraException($"{op}: window limits must be -1 (none) or >= 0, got left {o.WindowLeft}, right {o.WindowRight}");
        if (o.Scale is { } s && !float.IsFinite(s)) throw new TesseraException($"{op}: scale {s} is not finite");
    }
}
