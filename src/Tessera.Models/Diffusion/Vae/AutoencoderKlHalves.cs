using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>diffusers' vae.Encoder: conv_in; per level its resnets and (but the last) a stride-2 downsampler; the mid
/// block; GroupNorm, SiLU, conv_out to 2C channels (the posterior's mean and log-variance, "double_z").</summary>
internal sealed class KlEncoder
{
    private readonly TaeConv _convIn, _convOut;
    private readonly List<(KlResnet[] Resnets, KlDownsample? Down)> _levels = [];
    private readonly KlMidBlock _mid;
    private readonly GroupNorm _normOut;

    public KlEncoder(WeightBuilder wb, AutoencoderKlConfig c)
    {
        var widths = c.BlockOutChannels;
        _convIn = TaeConv.Load(wb.Pp("conv_in"), c.InChannels, widths[0], 3, true);
        int width = widths[0];
        for (int i = 0; i < widths.Length; i++)
        {
            var block = wb.Pp($"down_blocks.{i}");
            var resnets = new KlResnet[c.LayersPerBlock];
            for (int j = 0; j < resnets.Length; j++)
            {
                resnets[j] = KlResnet.Load(block.Pp($"resnets.{j}"), width, widths[i], c.NormNumGroups);
                width = widths[i];
            }
            bool last = i == widths.Length - 1;
            _levels.Add((resnets, last ? null : KlDownsample.Load(block.Pp("downsamplers.0.conv"), width)));
        }
        _mid = KlMidBlock.Load(wb.Pp("mid_block"), width, c);
        _normOut = GroupNorm.Load(wb.Pp("conv_norm_out"), c.NormNumGroups, width, KlResnet.Eps);
        _convOut = TaeConv.Load(wb.Pp("conv_out"), width, 2 * c.LatentChannels, 3, true);
    }

    /// <summary>Image [B, in, H, W] -> moments [B, 2C, H/f, W/f].</summary>
    public Tensor Forward(Tensor image)
    {
        var x = _convIn.Forward(image);
        foreach (var (resnets, down) in _levels)
        {
            foreach (var r in resnets) Step(ref x, r.Forward(x));
            if (down is not null) Step(ref x, down.Forward(x));
        }
        Step(ref x, _mid.Forward(x));
        Step(ref x, KlResnet.NormSilu(_normOut, x));
        Step(ref x, _convOut.Forward(x));
        return x;
    }

    internal static void Step(ref Tensor x, Tensor next)
    {
        x.Dispose();
        x = next;
    }
}

/// <summary>diffusers' vae.Decoder: conv_in to the widest width; the mid block; per level (widths reversed) one
/// resnet more than the encoder has and (but the last) nearest x2 + conv; GroupNorm, SiLU, conv_out.</summary>
internal sealed class KlDecoder
{
    private readonly TaeConv _convIn, _convOut;
    private readonly List<(KlResnet[] Resnets, KlUpsample? Up)> _levels = [];
    private readonly KlMidBlock _mid;
    private readonly GroupNorm _normOut;

    public KlDecoder(WeightBuilder wb, AutoencoderKlConfig c)
    {
        var widths = c.BlockOutChannels.Reverse().ToArray();
        int width = widths[0];
        _convIn = TaeConv.Load(wb.Pp("conv_in"), c.LatentChannels, width, 3, true);
        _mid = KlMidBlock.Load(wb.Pp("mid_block"), width, c);
        for (int i = 0; i < widths.Length; i++)
        {
            var block = wb.Pp($"up_blocks.{i}");
            var resnets = new KlResnet[c.LayersPerBlock + 1];
            for (int j = 0; j < resnets.Length; j++)
            {
                resnets[j] = KlResnet.Load(block.Pp($"resnets.{j}"), width, widths[i], c.NormNumGroups);
                width = widths[i];
            }
            bool last = i == widths.Length - 1;
            _levels.Add((resnets, last ? null : KlUpsample.Load(block.Pp("upsamplers.0"), width)));
        }
        _normOut = GroupNorm.Load(wb.Pp("conv_norm_out"), c.NormNumGroups, width, KlResnet.Eps);
        _convOut = TaeConv.Load(wb.Pp("conv_out"), width, c.OutChannels, 3, true);
    }

    /// <summary>Latent [B, C, h, w] (after post_quant_conv) -> image [B, out, h·f, w·f], nominally in [-1, 1].</summary>
    public Tensor Forward(Tensor latent)
    {
        var x = _convIn.Forward(latent);
        KlEncoder.Step(ref x, _mid.Forward(x));
        foreach (var (resnets, up) in _levels)
        {
            foreach (var r in resnets) KlEncoder.Step(ref x, r.Forward(x));
            if (up is not null) KlEncoder.Step(ref x, up.Forward(x));
        }
        KlEncoder.Step(ref x, KlResnet.NormSilu(_normOut, x));
        KlEncoder.Step(ref x, _convOut.Forward(x));
        return x;
    }
}
