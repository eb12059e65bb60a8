using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Text;

/// <summary>One post-LN BERT layer (transformers' BertLayer): h = LN(x + attn(x)), then LN(h + mlp(h)); each residual
/// is added in the epilogue of the projection before it.</summary>
/// <param name="Attention">Self-attention (attention.self.query/key/value, attention.output.dense).</param>
/// <param name="AttentionNorm">attention.output.LayerNorm.</param>
/// <param name="Mlp">intermediate.dense, output.dense.</param>
/// <param name="OutputNorm">output.LayerNorm.</param>
public sealed record BertLayer(MultiHeadAttention Attention, LayerNorm AttentionNorm, Mlp Mlp, LayerNorm OutputNorm)
{
    /// <summary>Loads the layer under <paramref name="wb"/>'s prefix (<c>encoder.layer.{i}</c>); <paramref name="layout"/>
    /// is how the linear weights are stored ([out, in] in PyTorch checkpoints, [in, out] as an ONNX MatMul's operand).</summary>
    public static BertLayer Load(WeightBuilder wb, BertConfig config, LinearLayout layout)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.HiddenSize, i = config.IntermediateSize;
        float eps = (float)config.LayerNormEps;
        Linear L(string name, int inF, int outF) => Linear.Load(wb.Pp(name), inF, outF, true, "weight", "bias", layout);
        var attention = new MultiHeadAttention(new AttentionConfig(d, config.NumAttentionHeads),
            L("attention.self.query", d, d), L("attention.self.key", d, d), L("attention.self.value", d, d), L("attention.output.dense", d, d));
        var activation = Vision.HiddenActivation.Parse(config.HiddenAct);
        return new BertLayer(attention, LayerNorm.Load(wb.Pp("attention.output.LayerNorm"), d, eps),
            new Mlp(L("intermediate.dense", d, i), L("output.dense", i, d), activation), LayerNorm.Load(wb.Pp("output.LayerNorm"), d, eps));
    }

    /// <summary>x [B, S, D] with an additive key mask [B, 1, 1, S] (or none).</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var a = Attention.Forward(x, mask is null ? null : new AttentionInputs(Mask: mask), residual: x);
        using var h = AttentionNorm.Forward(a);
        using var m = Mlp.Forward(h, h);
        return OutputNorm.Forward(m);
    }
}
