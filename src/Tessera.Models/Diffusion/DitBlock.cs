using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>One DiT block as diffusers stores it (BasicTransformerBlock with norm_type "ada_norm_zero"): its own
/// conditioning embedder (norm1.emb: timestep MLP + label table), the adaLN-Zero modulation (norm1.linear, 6 chunks),
/// self-attention (attn1.to_q/k/v, to_out.0) and a tanh-GELU feed-forward (ff.net.0.proj, ff.net.2).</summary>
public sealed class DitBlock
{
    /// <summary>The timestep embedder (diffusers' CombinedTimestepLabelEmbeddings: 256 frequencies, cos first,
    /// downscale_freq_shift 1).</summary>
    public TimestepEmbedding Timestep { get; }

    /// <summary>The label table [classes (+ 1 null class), D], f32.</summary>
    public Embedding Labels { get; }

    /// <summary>norm1: the adaLN-Zero modulation (shift, scale, gate for attention, then for the MLP).</summary>
    public AdaLayerNorm Modulation { get; }

    /// <summary>attn1.</summary>
    public MultiHeadAttention Attention { get; }

    /// <summary>ff: net.0.proj (GELU tanh), net.2.</summary>
    public Mlp FeedForward { get; }

    /// <summary>Epsilon of norm2 (config norm_eps); norm1's is 1e-6.</summary>
    public float Norm2Eps { get; }

    private DitBlock(TimestepEmbedding timestep, Embedding labels, AdaLayerNorm modulation, MultiHeadAttention attention, Mlp ff, float norm2Eps) =>
        (Timestep, Labels, Modulation, Attention, FeedForward, Norm2Eps) = (timestep, labels, modulation, attention, ff, norm2Eps);

    /// <summary>diffusers' attention names (to_q, to_k, to_v, to_out.0).</summary>
    public static AttentionNames Names { get; } = new("to_q", "to_k", "to_v", "to_out.0");

    /// <summary>Loads transformer_blocks.{i} from a builder at that prefix.</summary>
    public static DitBlock Load(WeightBuilder wb, DitConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.InnerDim;
        var emb = wb.Pp("norm1").Pp("emb");
        var timestep = TimestepEmbedding.Load(emb.Pp("timestep_embedder"), 256, d, flipSinToCos: true, downscaleFreqShift: 1);
        var labels = LoadLabels(emb.Pp("class_embedder"), config);
        var modulation = AdaLayerNorm.Load(wb.Pp("norm1"), d, d, chunks: 6, eps: 1e-6f, linear: "linear");
        var attention = MultiHeadAttention.Load(wb.Pp("attn1"),
            new AttentionConfig(d, config.NumAttentionHeads) { HeadDim = config.AttentionHeadDim, Names = Names });
        var ff = Mlp.Load(wb.Pp("ff").Pp("net"), d, 4 * d, Activation.GeluTanh, fc1: "0.proj", fc2: "2");
        return new DitBlock(timestep, labels, modulation, attention, ff, (float)config.NormEps);
    }

    // The table has num_classes rows, plus the null class's row when trained with label dropout (every DiT checkpoint).
    private static Embedding LoadLabels(WeightBuilder wb, DitConfig config)
    {
        const string name = "embedding_table.weight";
        var dims = wb.Info(name).Dims;
        int rows = dims.Count == 2 ? (int)dims[0] : -1;
        if (rows != config.NumEmbedsAdaNorm && rows != config.NumEmbedsAdaNorm + 1)
            throw new TesseraException($"{wb.FullName(name)}: [{string.Join(", ", dims)}] should have num_embeds_ada_norm {config.NumEmbedsAdaNorm} (+ 1 null class) rows of {config.InnerDim}");
        return new Embedding(wb.GetAs(name, DType.F32, rows, config.InnerDim));
    }

    /// <summary>The block's conditioning c [B, D] = timestep embedding + label embedding.</summary>
    public Tensor Conditioning(Tensor timesteps, ReadOnlySpan<int> classLabels)
    {
        using var t = Timestep.Forward(timesteps);
        using var y = Labels.Forward(classLabels);
        return t + y;
    }

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
        using (var f = FeedForward.Forward(n))
            return AdaLayerNorm.GatedAdd(h, m.GateMlp, f);
    }
}
