using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>A pre-LN transformer block: x + attn(norm1(x)), then h + mlp(norm2(h)); each residual is added in the
/// epilogue of the projection before it. This is the block of ViT, CLIP and SVTR with LayerNorm and an Mlp, and of a
/// LLaMA decoder with RmsNorm and a GatedMlp.</summary>
/// <param name="Norm1">Before attention.</param>
/// <param name="Attention">Self-attention.</param>
/// <param name="Norm2">Before the feed-forward network.</param>
/// <param name="Mlp">The feed-forward network.</param>
public sealed record TransformerBlock(INorm Norm1, MultiHeadAttention Attention, INorm Norm2, IFeedForward Mlp)
{
    /// <summary>Loads the block's sub-modules named by <see cref="TransformerBlockConfig.Names"/> under
    /// <paramref name="wb"/>'s prefix (for example <c>wb.Pp("encoder.layers").Pp(i)</c>).</summary>
    public static TransformerBlock Load(WeightBuilder wb, TransformerBlockConfig config, RotaryEmbedding? rope = null)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        var n = config.Names;
        int d = config.Attention.Dim;
        INorm Norm(string name) => config.Norm == NormKind.LayerNorm
            ? LayerNorm.Load(wb.Pp(name), d, config.NormEps)
            : RmsNorm.Load(wb.Pp(name), d, config.NormEps, config.NormAddOne);
        var norm1 = Norm(n.Norm1);
        var attention = MultiHeadAttention.Load(wb.Pp(n.Attention), config.Attention, rope);
        var norm2 = Norm(n.Norm2);
        var mlpWb = wb.Pp(n.Mlp);
        IFeedForward mlp = config.FeedForward == FeedForwardKind.Mlp
            ? Nn.Mlp.Load(mlpWb, d, config.MlpHidden, config.Activation, config.MlpBias, n.Fc1, n.Fc2)
            : GatedMlp.Load(mlpWb, d, config.MlpHidden, config.Activation, config.MlpBias, n.Gate, n.Up, n.Down);
        return new TransformerBlock(norm1, attention, norm2, mlp);
    }

    /// <summary>The block applied to x [B, S, Dim]; <paramref name="inputs"/> carries the mask, positions and cache.</summary>
    public Tensor Forward(Tensor x, AttentionInputs? inputs = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var n1 = Norm1.Forward(x);
        using var h = Attention.Forward(n1, inputs, residual: x);
        using var n2 = Norm2.Forward(h);
        return Mlp.Forward(n2, h);
    }
}
