using Tessera.Formats;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>The tiny autoencoders of madebyollin/taesd (taesd.py): TAESD, TAESDXL, TAESD3 and TAEF1 (4 or 16 latent
/// channels) and FLUX.2's TAEF2 (32 channels, a GroupNorm pooling branch in the three blocks next to the latent).
/// Published as two state dicts of an nn.Sequential each ("taesd_encoder.pth", "taesd_decoder.pth", or safetensors);
/// the variant and latent width are read off the weights. Images are [B, 3, H, W] in [0, 1]; latents are
/// [B, C, H/8, W/8] in the diffusion model's own (already scaled) latent space, as stable-diffusion.cpp uses them for
/// previews. The 32x "f32" variant (TAESANA) is not implemented.</summary>
public sealed class TinyAutoencoder : ILatentDecoder
{
    /// <summary>The spatial factor between image and latent.</summary>
    public const int Factor = 8;

    private readonly WeightSet _weights;
    private readonly object[] _layers;

    private TinyAutoencoder(WeightSet weights, object[] layers, bool isEncoder, int latentChannels, bool midBlock)
    {
        _weights = weights;
        _layers = layers;
        IsEncoder = isEncoder;
        LatentChannels = latentChannels;
        HasMidBlock = midBlock;
    }

    /// <inheritdoc/>
    public int SpatialFactor => Factor;

    /// <summary>Whether this half maps images to latents.</summary>
    public bool IsEncoder { get; }

    /// <summary>C: 4 (TAESD, TAESDXL), 16 (TAESD3, TAEF1) or 32 (TAEF2).</summary>
    public int LatentChannels { get; }

    /// <summary>Whether the blocks next to the latent carry FLUX.2's GroupNorm pooling branch.</summary>
    public bool HasMidBlock { get; }

    /// <summary>Opens an encoder or a decoder file (.pth or .safetensors); which one it is comes from its weights.</summary>
    public static TinyAutoencoder Open(IBackend backend, string path)
    {
        var wb = WeightBuilder.Open(backend, path);
        try
        {
            return Load(wb);
        }
        finally
        {
            wb.Dispose();
        }
    }

    /// <summary>Loads from a builder whose prefix is the Sequential's root ("0.weight", "1.conv.0.weight", ...).</summary>
    public static TinyAutoencoder Load(WeightBuilder wb)
    {
        ArgumentNullException.ThrowIfNull(wb);
        // The encoder starts with conv(3, 64) at index 0; the decoder with Clamp, so its first weight is at index 1.
        bool encoder = wb.Contains("0.weight");
        if (!encoder && !wb.Contains("1.weight"))
            throw new TesseraException($"{wb.FullName("0.weight")} and {wb.FullName("1.weight")} are both absent: not a TAESD encoder or decoder");
        var dims = wb.Info(encoder ? "14.weight" : "1.weight").Dims;
        if (dims.Count != 4) throw new TesseraException($"{wb.FullName(encoder ? "14.weight" : "1.weight")}: a TAESD latent conv is [out, in, 3, 3], got [{string.Join(", ", dims)}]");
        int latent = (int)(encoder ? dims[0] : dims[1]);
        bool mid = wb.Contains(encoder ? "11.pool.0.weight" : "3.pool.0.weight");
        var layers = encoder ? EncoderLayers(wb, latent, mid) : DecoderLayers(wb, latent, mid);
        return new TinyAutoencoder(wb.Commit(), layers, encoder, latent, mid);
    }

    // conv(3, 64), Block; then three times: stride-2 conv, 3 Blocks (the last three with the mid block); conv(64, C).
    private static object[] EncoderLayers(WeightBuilder wb, int latent, bool mid)
    {
        var layers = new List<object> { TaeConv.Load(wb.Pp(0), 3, 64, 3, true), TaeBlock.Load(wb.Pp(1), 64, 64, false) };
        for (int stage = 0; stage < 3; stage++)
        {
            int i = 2 + 4 * stage;
            layers.Add(TaeConv.Load(wb.Pp(i), 64, 64, 3, false, stride: 2));
            for (int j = 1; j <= 3; j++) layers.Add(TaeBlock.Load(wb.Pp(i + j), 64, 64, mid && stage == 2));
        }
        layers.Add(TaeConv.Load(wb.Pp(14), 64, latent, 3, true));
        return [.. layers];
    }

    // Clamp, conv(C, 64), ReLU; then three times: 3 Blocks (the first three with the mid block), upsample 2x, conv; Block, conv(64, 3).
    private static object[] DecoderLayers(WeightBuilder wb, int latent, bool mid)
    {
        var layers = new List<object> { UnaryOp.Tanh, TaeConv.Load(wb.Pp(1), latent, 64, 3, true), UnaryOp.Relu };
        for (int stage = 0; stage < 3; stage++)
        {
            int i = 3 + 5 * stage;
            for (int j = 0; j < 3; j++) layers.Add(TaeBlock.Load(wb.Pp(i + j), 64, 64, mid && stage == 0));
            layers.Add(Factor); // nn.Upsample(scale_factor=2)
            layers.Add(TaeConv.Load(wb.Pp(i + 4), 64, 64, 3, false));
        }
        layers.Add(TaeBlock.Load(wb.Pp(18), 64, 64, false));
        layers.Add(TaeConv.Load(wb.Pp(19), 64, 3, 3, true));
        return [.. layers];
    }

    /// <summary>Image [B, 3, H, W] in [0, 1] (H and W multiples of 8) -> latent [B, C, H/8, W/8].</summary>
    public Tensor Encode(Tensor image)
    {
        if (!IsEncoder) throw new TesseraException("this TAESD file is a decoder: Encode needs the encoder file");
        ArgumentNullException.ThrowIfNull(image);
        if (image.Rank != 4 || image.Dim(1) != 3)
            throw new TesseraException($"TAESD encoder: the image must be [B, 3, H, W], got {image.Shape}");
        if (image.Dim(2) % Factor != 0 || image.Dim(3) % Factor != 0)
            throw new TesseraException($"TAESD encoder: the image is {image.Dim(3)}x{image.Dim(2)}, not a multiple of the latent factor {Factor}");
        return Run(image);
    }

    /// <summary>Latent [B, C, h, w] -> image [B, 3, 8h, 8w], nominally in [0, 1] (clamp before writing pixels).</summary>
    public Tensor Decode(Tensor latent)
    {
        if (IsEncoder) throw new TesseraException("this TAESD file is an encoder: Decode needs the decoder file");
        ArgumentNullException.ThrowIfNull(latent);
        if (latent.Rank != 4 || latent.Dim(1) != LatentChannels)
            throw new TesseraException($"TAESD decoder: the latent must be [B, {LatentChannels}, h, w], got {latent.Shape}");
        return Run(latent);
    }

    /// <inheritdoc/>
    public Tensor DecodeModelLatent(Tensor latent) => Decode(latent);

    private Tensor Run(Tensor input)
    {
        var x = input.To(DType.F32);
        foreach (var layer in _layers)
        {
            var next = layer switch
            {
                TaeConv conv => conv.Forward(x),
                TaeBlock block => block.Forward(x),
                // Clamp: tanh(x / 3) * 3 keeps latents within +-3.
                UnaryOp.Tanh => Tanh3(x),
                UnaryOp.Relu => x.Map(UnaryOp.Relu),
                int => x.UpsampleNearest(2),
                _ => throw new InvalidOperationException($"unknown TAESD layer {layer}"),
            };
            x.Dispose();
            x = next;
        }
        return x;
    }

    private static Tensor Tanh3(Tensor x)
    {
        using var scaled = x.Affine(1 / 3.0);
        using var t = scaled.Map(UnaryOp.Tanh);
        return t.Affine(3);
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
