using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>Multi-head attention: q, k, v projections (separate or packed), heads split as views, optional rotary
/// embedding of q and k by position id, an optional KV cache, <see cref="Tensor.Attention"/> (grouped-query when there
/// are fewer kv heads, causal and additive masks), then the output projection with the residual in its epilogue.
/// Self-attention when no context is given, cross-attention (keys and values from the context) otherwise.</summary>
public sealed class MultiHeadAttention
{
    /// <summary>The layer's shape.</summary>
    public AttentionConfig Config { get; }

    /// <summary>The query projection (null when packed).</summary>
    public Linear? Q { get; }

    /// <summary>The key projection (null when packed).</summary>
    public Linear? K { get; }

    /// <summary>The value projection (null when packed).</summary>
    public Linear? V { get; }

    /// <summary>The packed q/k/v projection [(H + 2 Hkv) * HeadDim, Dim] (null when separate).</summary>
    public Linear? Qkv { get; }

    /// <summary>The output projection [Dim, H * HeadDim].</summary>
    public Linear Out { get; }

    /// <summary>Rotary embedding of q and k, or null.</summary>
    public RotaryEmbedding? Rope { get; }

    /// <summary>An attention layer from separate projections.</summary>
    public MultiHeadAttention(AttentionConfig config, Linear q, Linear k, Linear v, Linear output, RotaryEmbedding? rope = null)
        : this(config, q, k, v, null, output, rope) { }

    /// <summary>An attention layer from a packed q/k/v projection (rows: q, then k, then v).</summary>
    public MultiHeadAttention(AttentionConfig config, Linear qkv, Linear output, RotaryEmbedding? rope = null)
        : this(config, null, null, null, qkv, output, rope) { }

    private MultiHeadAttention(AttentionConfig config, Linear? q, Linear? k, Linear? v, Linear? qkv, Linear output, RotaryEmbedding? rope)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(output);
        config.Validate();
        int hd = config.HeadDimension, qd = config.Heads * hd, kvd = config.KvHeadCount * hd;
        void Expect(Linear? l, string what, int inF, int outF)
        {
            if (l is not null && (l.InFeatures != inF || l.OutFeatures != outF))
                throw new TesseraException($"attention: the {what} projection is {l.InFeatures} -> {l.OutFeatures}, expected {inF} -> {outF} ({config.Heads} heads, {config.KvHeadCount} kv heads of {hd})");
        }
        Expect(q, "query", config.Dim, qd);
        Expect(k, "key", config.ContextDimension, kvd);
        Expect(v, "value", config.ContextDimension, kvd);
        Expect(qkv, "packed q/k/v", config.Dim, qd + 2 * kvd);
        Expect(output, "output", qd, config.Dim);
        if (rope is not null && rope.RotaryDim > hd)
            throw new TesseraException($"attention: rotary dim {rope.RotaryDim} exceeds the head dim {hd}");
        (Config, Q, K, V, Qkv, Out, Rope) = (config, q, k, v, qkv, output, rope);
    }

    /// <summary>Loads the projections named by <see cref="AttentionConfig.Names"/> under <paramref name="wb"/>'s prefix.</summary>
    public static MultiHeadAttention Load(WeightBuilder wb, AttentionConfig config, RotaryEmbedding? rope = null)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var n = config.Names;
        int d = config.Dim, qd = config.Heads * config.HeadDimension, kvd = config.KvHeadCount * config.HeadDimension;
        var output = Linear.Load(wb.Pp(n.Out), qd, d, config.OutBias);
        if (n.PackedWeight is { } pw)
            return new(config, Linear.Load(wb, d, qd + 2 * kvd, config.QkvBias, pw, n.PackedBias), output, rope);
        int c = config.ContextDimension;
        return new(config, Linear.Load(wb.Pp(n.Q), d, qd, config.QkvBias), Linear.Load(wb.Pp(n.K), c, kvd, config.QkvBias),
            Linear.Load(wb.Pp(n.V), c, kvd, config.QkvBias), output, rope);
    }

    /// <summary>Attention of x [B, S, Dim] over itself, or over <paramref name="context"/> [B, Sc, ContextDim] when
    /// given; returns [B, S, Dim], plus <paramref name="residual"/> when given (added in the output projection).</summary>
    public Tensor Forward(Tensor x, AttentionInputs? inputs = null, Tensor? context = null, Tensor? residual = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        inputs ??= AttentionInputs.None;
        var cfg = Config;
        if (x.Rank != 3 || x.Dim(2) != cfg.Dim)
            throw new TesseraException($"attention: x must be [B, S, {cfg.Dim}], got {x.Shape}");
        if (context is not null && (context.Rank != 3 || context.Dim(0) != x.Dim(0) || context.Dim(2) != cfg.ContextDimension))
            throw new TesseraException($"attention: the context must be [{x.Dim(0)}, S, {cfg.ContextDimension}] for x {x.Shape}, got {context.Shape}");
        if (context is not null && Qkv is not null)
            throw new TesseraException("attention: a packed q/k/v projection cannot attend to a separate context (cross-attention needs separate projections)");
        int b = x.Dim(0), s = x.Dim(1), hd = cfg.HeadDimension;

        var (q, k, v) = Project(x, context);
        try
        {
            int start = inputs.Cache?.Length(inputs.Layer) ?? 0;
            if (Rope is not null && context is null)
            {
                Swap(ref q, Rope.Apply(q, inputs.Positions, start));
                Swap(ref k, Rope.Apply(k, inputs.Positions, start));
            }
            var options = new AttentionOptions { Causal = cfg.Causal, Scale = cfg.Scale, WindowLeft = cfg.SlidingWindow is { } w ? w - 1 : -1 };
            Tensor o;
            if (inputs.Cache is IAttendingKvCache attending && context is null && inputs.Mask is null)
                o = attending.AppendAndAttend(inputs.Layer, q, k, v, options);     // the cache attends over its own storage (paged)
            else
            {
                if (inputs.Cache is { } cache && context is null)
                {
                    var (kAll, vAll) = cache.Append(inputs.Layer, k, v);
                    Swap(ref k, kAll);
                    Swap(ref v, vAll);
                }
                o = q.Attention(k, v, options, inputs.Mask);                          // [B, H, S, hd]
            }
            using var _ = o;
            using var ot = o.Permute(0, 2, 1, 3);
            using var merged = ot.Reshape(b, s, cfg.Heads * hd);                    // heads back side by side
            return Out.Forward(merged, new MatMulEpilogue(Residual: residual));
        }
        finally { q.Dispose(); k.Dispose(); v.Dispose(); }
    }

    // q [B, H, S, hd], k and v [B, Hkv, Skv, hd]: views over the projections' outputs (no copies).
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor x, Tensor? context)
    {
        var cfg = Config;
        int b = x.Dim(0), s = x.Dim(1), h = cfg.Heads, hkv = cfg.KvHeadCount, hd = cfg.HeadDimension;
        if (Qkv is not null)
        {
            using var qkv = Qkv.Forward(x);
            using var heads = qkv.Reshape(b, s, h + 2 * hkv, hd);
            return (Heads(heads, 0, h), Heads(heads, h, hkv), Heads(heads, h + hkv, hkv));
        }
        var src = context ?? x;
        int skv = src.Dim(1);
        using var qp = Q!.Forward(x);
        using var kp = K!.Forward(src);
        using var vp = V!.Forward(src);
        using var q4 = qp.Reshape(b, s, h, hd);
        using var k4 = kp.Reshape(b, skv, hkv, hd);
        using var v4 = vp.Reshape(b, skv, hkv, hd);
        return (q4.Permute(0, 2, 1, 3), k4.Permute(0, 2, 1, 3), v4.Permute(0, 2, 1, 3));
    }

    private static Tensor Heads(Tensor heads, int first, int count)
    {
        using var n = heads.Narrow(2, first, count);
        return n.Permute(0, 2, 1, 3);
    }

    private static void Swap(ref Tensor t, Tensor replacement)
    {
        t.Dispose();
        t = replacement;
    }
}
