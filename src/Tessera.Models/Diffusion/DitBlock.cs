using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>One DiT block (adaLN-Zero): the modulation (6 chunks: shift, scale, gate for attention, then for the MLP,
/// in that order in both layouts), self-attention and a tanh-GELU feed-forward. Stored as diffusers does
/// (BasicTransformerBlock with norm_type "ada_norm_zero": norm1.emb, norm1.linear, attn1.to_q/k/v, to_out.0,
/// ff.net.0.proj, ff.net.2) or as the original checkpoints do (adaLN_modulation.1, attn.qkv packed, attn.proj,
/// mlp.fc1, mlp.fc2; the conditioning embedders live outside the blocks).</summary>
public sealed class DitBlock
{
    /// <summary>The conditioning embedders this block reads c from: its own (diffusers) or the model's shared one.</summary>
    public DitConditioning Embedder { get; }

    /// <summary>The timestep embedder.</summary>
    public TimestepEmbedding Timestep => Embedder.Timestep;

    /// <summary>The label table [classes (+ 1 null class), D], f32.</summary>
    public Embedding Labels => Embedder.Labels;

    /// <summary>The adaLN-Zero modulation (shift, scale, gate for attention, then for the MLP).</summary>
    public AdaLayerNorm Modulation { get; }

    /// <summary>The self-attention.</summary>
    public MultiHeadAttention Attention { get; }

    /// <summary>The feed-forward: fc1 (GELU tanh), fc2.</summary>
    public Mlp FeedForward { get; }

    /// <summary>Epsilon of the second LayerNorm (diffusers: config norm_eps; original: 1e-6); the first's is 1e-6.</summary>
    public float Norm2Eps { get; }

    private DitBlock(DitConditioning embedder, AdaLayerNorm modulation, MultiHeadAttention attention, Mlp ff, float norm2Eps) =>
        (Embedder, Modulation, Attention, FeedForward, Norm2Eps) = (embedder, modulation, attention, ff, norm2Eps);

    /// <summary>diffusers' attention names (to_q, to_k, to_v, to_out.0).</summary>
    public static AttentionNames Names { get; } = new("to_q", "to_k", "to_v", "to_out.0");

    /// <summary>Loads transformer_blocks.{i} (diffusers' layout) from a builder at that prefix.</summary>
    public static DitBlock Load(WeightBuilder wb, DitConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.InnerDim;
        var embedder = DitConditioning.Load(wb.Pp("norm1").Pp("emb"), config, "timestep_embedder", "class_embedder");
        var modulation = AdaLayerNorm.Load(wb.Pp("norm1"), d, d, chunks: 6, eps: 1e-6f, linear: "linear");
        var attention = MultiHeadAttention.Load(wb.Pp("attn1"),
            new AttentionConfig(d, config.NumAttentionHeads) { HeadDim = config.AttentionHeadDim, Names = Names });
        var ff = Mlp.Load(wb.Pp("ff").Pp("net"), d, 4 * d, Activation.GeluTanh, fc1: "0.proj", fc2: "2");
        return new DitBlock(embedder, modulation, attention, ff, (float)config.NormEps);
    }

    /// <summary>Loads blocks.{i} of an original (facebookresearch) checkpoint from a builder at that prefix; the block
    /// reads c from the model's <paramref name="shared"/> embedders.</summary>
    public static DitBlock LoadOriginal(WeightBuilder wb, DitConfig config, DitConditioning shared)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(shared);
        int d = config.InnerDim;
        var modulation = AdaLayerNorm.Load(wb, d, d, chunks: 6, eps: 1e-6f);
        var attention = MultiHeadAttention.Load(wb.Pp("attn"),
            new AttentionConfig(d, config.NumAttentionHeads) { HeadDim = config.AttentionHeadDim, Names = AttentionNames.Timm });
        var ff = Mlp.Load(wb.Pp("mlp"), d, 4 * d, Activation.GeluTanh);
        return new DitBlock(shared, modulation, attention, ff, (float)config.NormEps);
    }

    /// <summary>The block's conditioning c [B, D] = timestep embedding + label embedding.</summary>
    public Tensor Conditioning(Tensor timesteps, ReadOnlySpan<int> classLabels) => Embedder.Forward(timesteps, classLabels);

    /// <summary>x [B, N, D] -> x + gate_msa attn(mod(norm1 x)) then + gate_mlp ff(mod(norm2 x)), conditioned on c [B, D].</summary>
    public Tensor Forward(Tensor x, Tensor c)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var m = Modulation.Forward(c);
        Tensor h;
        using (var n = Modulation.Modulate(x, m.ShiftMsa, m.ScaleMsa))
        using (var a = Attention.Forward(n))
            h = AdaLayerNorm.GatedAdd(x, m.GateMsa, a);
        using (h)
        using (var n2 = h.LayerNorm(null, null, Norm2Eps))
        using (var onePlus = m.ScaleMlp.Affine(1, 1))
        using (var scaled = n2 * onePlus)
        using (var n = scaled + m.ShiftMlp)
        using (var f = FlatFeedForward(FeedForward, n))
            return AdaLayerNorm.GatedAdd(h, m.GateMlp, f);
    }

    /// <summary>ff(x) for x [B, N, D] run as one [B*N, D] GEMM per layer: the weight is streamed once for the whole batch
    /// instead of once per sample (the batched matmul runs a GEMM per batch entry).</summary>
    internal static Tensor FlatFeedForward(Mlp ff, Tensor x)
    {
        int b = x.Dim(0), s = x.Dim(1), d = x.Dim(2);
        using var flat = x.Reshape(b * s, d);
        using var y = ff.Forward(flat);
        return y.Reshape(b, s, y.Dim(1));
    }
}
