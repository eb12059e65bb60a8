using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>diffusers' ResnetBlock2D as the VAE uses it (no time embedding, output scale 1):
/// x' = conv_shortcut(x) or x; out = x' + conv2(silu(norm2(conv1(silu(norm1(x)))))).</summary>
internal sealed record KlResnet(GroupNorm Norm1, TaeConv Conv1, GroupNorm Norm2, TaeConv Conv2, TaeConv? Shortcut)
{
    public const float Eps = 1e-6f;

    public static KlResnet Load(WeightBuilder wb, int cin, int cout, int groups) => new(
        GroupNorm.Load(wb.Pp("norm1"), groups, cin, Eps), TaeConv.Load(wb.Pp("conv1"), cin, cout, 3, true),
        GroupNorm.Load(wb.Pp("norm2"), groups, cout, Eps), TaeConv.Load(wb.Pp("conv2"), cout, cout, 3, true),
        cin != cout ? TaeConv.Load(wb.Pp("conv_shortcut"), cin, cout, 1, true) : null);

    public Tensor Forward(Tensor x)
    {
        using var n1 = NormSilu(Norm1, x);
        using var h1 = Conv1.Forward(n1);
        using var n2 = NormSilu(Norm2, h1);
        using var h2 = Conv2.Forward(n2);
        using var skip = Shortcut?.Forward(x);
        return (skip ?? x) + h2;
    }

    /// <summary>silu(GroupNorm(x)), the pre-activation every block and the output head use.</summary>
    public static Tensor NormSilu(GroupNorm norm, Tensor x)
    {
        using var n = norm.Forward(x);
        return n.Silu();
    }
}

/// <summary>The mid block's single-head self-attention over the h x w positions (diffusers' Attention with
/// _from_deprecated_attn_block): x + to_out(attention(to_q, to_k, to_v of group_norm(x))). Current checkpoints name the
/// projections to_q, to_k, to_v, to_out.0; older ones query, key, value, proj_attn: both load.</summary>
internal sealed record KlAttention(GroupNorm Norm, MultiHeadAttention Attention)
{
    private static readonly AttentionNames Current = new("to_q", "to_k", "to_v", "to_out.0");
    private static readonly AttentionNames Legacy = new("query", "key", "value", "proj_attn");

    public static KlAttention Load(WeightBuilder wb, int channels, int groups)
    {
        var names = wb.Contains("to_q.weight") || !wb.Contains("query.weight") ? Current : Legacy;
        // One head as wide as the block (the VAE passes attention_head_dim = its width).
        var attn = MultiHeadAttention.Load(wb, new AttentionConfig(channels, 1) { Names = names });
        return new(GroupNorm.Load(wb.Pp("group_norm"), groups, channels, KlResnet.Eps), attn);
    }

    // The fused attention op takes heads up to 256 wide; SD's VAE attends with one head of 512.
    private const int MaxFusedHeadDim = 256;

    public Tensor Forward(Tensor x)
    {
        int b = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        using var n = Norm.Forward(x);
        using var flat = n.Reshape(b, c, h * w);
        using var tv = flat.Transpose(1, 2);
        using var tokens = tv.Contiguous();                 // [B, hw, C]
        using var o = c <= MaxFusedHeadDim ? Attention.Forward(tokens) : Unfused(tokens, c);
        using var ov = o.Transpose(1, 2);
        using var oc = ov.Contiguous();
        using var back = oc.Reshape(b, c, h, w);
        return x + back;
    }

    // softmax(q k^T / sqrt(C)) v with the scores materialised ([B, hw, hw]: 64 MB at a 64 x 64 latent), then to_out.
    private Tensor Unfused(Tensor tokens, int c)
    {
        using var q = Attention.Q!.Forward(tokens);
        using var k = Attention.K!.Forward(tokens);
        using var v = Attention.V!.Forward(tokens);
        using var kt = k.Transpose(1, 2);
        using var scores = q.MatMul(kt);
        using var p = scores.Softmax(null, 1 / MathF.Sqrt(c));
        using var a = p.MatMul(v);
        return Attention.Out.Forward(a);
    }
}

/// <summary>The middle of both halves (UNetMidBlock2D): resnet, attention (unless the config drops it), resnet.</summary>
internal sealed record KlMidBlock(KlResnet First, KlAttention? Attention, KlResnet Second)
{
    public static KlMidBlock Load(WeightBuilder wb, int channels, AutoencoderKlConfig config) => new(
        KlResnet.Load(wb.Pp("resnets.0"), channels, channels, config.NormNumGroups),
        config.MidBlockAddAttention ? KlAttention.Load(wb.Pp("attentions.0"), channels, config.NormNumGroups) : null,
        KlResnet.Load(wb.Pp("resnets.1"), channels, channels, config.NormNumGroups));

    public Tensor Forward(Tensor x)
    {
        using var a = First.Forward(x);
        using var b = Attention?.Forward(a);
        return Second.Forward(b ?? a);
    }
}

/// <summary>diffusers' Downsample2D with padding 0: zero-pad one column on the right and one row at the bottom
/// (F.pad(x, (0, 1, 0, 1))), then a 3x3 stride-2 conv without padding.</summary>
internal sealed record KlDownsample(Tensor Weight, Tensor Bias)
{
    public static KlDownsample Load(WeightBuilder wb, int channels) =>
        new(wb.GetAs("weight", DType.F32, channels, channels, 3, 3), wb.GetAs("bias", DType.F32, channels));

    public Tensor Forward(Tensor x)
    {
        int b = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        using var right = Tensor.Zeros(x.Backend, x.DType, new Shape(b, c, h, 1));
        using var wide = Tensor.Concat(3, x, right);
        using var bottom = Tensor.Zeros(x.Backend, x.DType, new Shape(b, c, 1, w + 1));
        using var padded = Tensor.Concat(2, wide, bottom);
        return padded.Conv2d(Weight, Bias, new Conv2dParams(2, 2, 0, 0));
    }
}

/// <summary>diffusers' Upsample2D: nearest x2, then a 3x3 conv.</summary>
internal sealed record KlUpsample(TaeConv Conv)
{
    public static KlUpsample Load(WeightBuilder wb, int channels) => new(TaeConv.Load(wb.Pp("conv"), channels, channels, 3, true));

    public Tensor Forward(Tensor x)
    {
        using var up = x.UpsampleNearest(2);
        return Conv.Forward(up);
    }
}
