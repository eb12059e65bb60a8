using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>SigLIP's attention-pooling head (transformers' SiglipMultiheadAttentionPoolingHead, names under
/// <c>vision_model.head</c>): a learned <c>probe</c> query attends over every patch through PyTorch's
/// nn.MultiheadAttention (packed <c>attention.in_proj_weight</c>), then h + mlp(layernorm(h)).</summary>
public sealed class SiglipPoolingHead
{
    /// <summary>The probe [1, 1, D].</summary>
    public Tensor Probe { get; }

    /// <summary>Cross-attention from the probe to the patches (q, k, v: row blocks of in_proj_weight).</summary>
    public MultiHeadAttention Attention { get; }

    /// <summary>The norm before the MLP.</summary>
    public LayerNorm Norm { get; }

    /// <summary>The MLP (residual added in its last projection).</summary>
    public Mlp Mlp { get; }

    private SiglipPoolingHead(Tensor probe, MultiHeadAttention attention, LayerNorm norm, Mlp mlp) =>
        (Probe, Attention, Norm, Mlp) = (probe, attention, norm, mlp);

    /// <summary>Loads the head under <paramref name="wb"/>'s prefix.</summary>
    public static SiglipPoolingHead Load(WeightBuilder wb, int dim, int heads, int hidden, Activation activation, float eps)
    {
        ArgumentNullException.ThrowIfNull(wb);
        var probe = wb.GetAs("probe", DType.F32, 1, 1, dim);
        var mha = wb.Pp("attention");
        // nn.MultiheadAttention packs q, k, v as row blocks; cross-attention needs them apart, so each is a view.
        var packed = mha.Get("in_proj_weight", 3 * dim, dim);
        var packedBias = mha.GetAs("in_proj_bias", DType.F32, 3 * dim);
        Linear Part(int i) => new(mha.Own(packed.Narrow(0, i * dim, dim)), mha.Own(packedBias.Narrow(0, i * dim, dim)));
        var config = new AttentionConfig(dim, heads);
        var attention = new MultiHeadAttention(config, Part(0), Part(1), Part(2), Linear.Load(mha.Pp("out_proj"), dim, dim));
        var norm = LayerNorm.Load(wb.Pp("layernorm"), dim, eps);
        var mlp = Mlp.Load(wb.Pp("mlp"), dim, hidden, activation);
        return new SiglipPoolingHead(probe, attention, norm, mlp);
    }

    /// <summary>Patches [B, N, D] to the pooled vector [B, D].</summary>
    public Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var probe = Probe.BroadcastTo(new Shape(x.Dim(0), 1, Probe.Dim(2)));
        using var h = Attention.Forward(probe, context: x);
        using var n = Norm.Forward(h);
        using var y = Mlp.Forward(n, h);
        return y.Reshape(x.Dim(0), Probe.Dim(2));
    }
}
