using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>One MMDiT block (diffusers' JointTransformerBlock): both streams are modulated by the conditioning
/// (norm1 and norm1_context: adaLN-Zero, 6 chunks shift/scale/gate for attention then for the MLP), attend jointly
/// (<see cref="MmditAttention"/>), and each gets its own gated tanh-GELU feed-forward (ff, ff_context). In the last
/// block the text stream only feeds the attention (context_pre_only): norm1_context is AdaLayerNormContinuous
/// (2 chunks, scale before shift) and there is no text output.</summary>
public sealed class MmditBlock
{
    private readonly AdaLayerNorm _norm1, _norm1Context;
    private readonly MmditAttention _attention;
    private readonly Mlp _ff;
    private readonly Mlp? _ffContext;

    private MmditBlock(AdaLayerNorm norm1, AdaLayerNorm norm1Context, MmditAttention attention, Mlp ff, Mlp? ffContext) =>
        (_norm1, _norm1Context, _attention, _ff, _ffContext) = (norm1, norm1Context, attention, ff, ffContext);

    /// <summary>Whether this block only feeds the text stream into the attention (the last block).</summary>
    public bool ContextPreOnly => _ffContext is null;

    /// <summary>Loads transformer_blocks.{i} from a builder at that prefix.</summary>
    public static MmditBlock Load(WeightBuilder wb, MmditConfig config, bool contextPreOnly)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.InnerDim;
        if (wb.Contains("attn2.to_q.weight"))
            throw new TesseraException($"MMDiT: {wb.FullName("attn2")} (SD3.5 Medium's dual attention) is not supported");
        var norm1 = AdaLayerNorm.Load(wb.Pp("norm1"), d, d, chunks: 6, eps: 1e-6f, linear: "linear");
        var norm1Context = AdaLayerNorm.Load(wb.Pp("norm1_context"), d, d, chunks: contextPreOnly ? 2 : 6, eps: 1e-6f, linear: "linear");
        var attention = MmditAttention.Load(wb.Pp("attn"), config, contextPreOnly);
        var ff = Mlp.Load(wb.Pp("ff").Pp("net"), d, 4 * d, Activation.GeluTanh, fc1: "0.proj", fc2: "2");
        var ffContext = contextPreOnly ? null : Mlp.Load(wb.Pp("ff_context").Pp("net"), d, 4 * d, Activation.GeluTanh, fc1: "0.proj", fc2: "2");
        return new MmditBlock(norm1, norm1Context, attention, ff, ffContext);
    }

    /// <summary>Image tokens x [B, N, D] and text tokens c [B, T, D] under conditioning temb [B, D] -> the new image
    /// tokens and the new text tokens (null in a context_pre_only block).</summary>
    public (Tensor Image, Tensor? Context) Forward(Tensor x, Tensor c, Tensor temb)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(c);
        using var m = _norm1.Forward(temb);
        using var mc = _norm1Context.Forward(temb);
        Tensor attnImage;
        Tensor? attnText;
        using (var nx = _norm1.Modulate(x, m.ShiftMsa, m.ScaleMsa))
        using (var nc = ContextPreOnly ? _norm1Context.Modulate(c, shift: mc[1], scale: mc[0]) : _norm1Context.Modulate(c, mc.ShiftMsa, mc.ScaleMsa))
            (attnImage, attnText) = _attention.Forward(nx, nc);
        using (attnText)
        {
            Tensor image;
            using (attnImage)
                image = GatedFeedForward(x, m, attnImage, _ff);
            if (ContextPreOnly) return (image, null);
            try { return (image, GatedFeedForward(c, mc, attnText!, _ffContext!)); }
            catch { image.Dispose(); throw; }
        }
    }

    // h = x + gate_msa·attn; h + gate_mlp·ff(LayerNorm(h)·(1 + scale_mlp) + shift_mlp).
    private static Tensor GatedFeedForward(Tensor x, AdaLnModulation m, Tensor attn, Mlp ff)
    {
        using var h = AdaLayerNorm.GatedAdd(x, m.GateMsa, attn);
        using var n2 = h.LayerNorm(null, null, 1e-6f);
        using var onePlus = m.ScaleMlp.Affine(1, 1);
        using var scaled = n2 * onePlus;
        using var n = scaled + m.ShiftMlp;
        using var f = DitBlock.FlatFeedForward(ff, n);
        return AdaLayerNorm.GatedAdd(h, m.GateMlp, f);
    }
}
