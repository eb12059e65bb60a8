using Tessera.Formats;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>How an <see cref="AutoencoderKl"/> is opened and how it decodes large latents.</summary>
public sealed record AutoencoderKlOptions
{
    /// <summary>Load the encoder half (false saves its weights when only decoding).</summary>
    public bool LoadEncoder { get; init; } = true;

    /// <summary>Load the decoder half.</summary>
    public bool LoadDecoder { get; init; } = true;

    /// <summary>Tiled decoding and encoding: the tile's side in image pixels (a multiple of the spatial factor); 0 never
    /// tiles; null is automatic: tiles of the config's sample_size once the image passes <see cref="AutoTileAbovePixels"/>
    /// pixels.</summary>
    public int? TileSize { get; init; }

    /// <summary>Fraction of a tile shared with its neighbour and blended linearly (diffusers' tile_overlap_factor).</summary>
    public double TileOverlap { get; init; } = 0.25;

    /// <summary>With <see cref="TileSize"/> null, images of more pixels than this decode and encode in tiles (the untiled
    /// networks hold several [B, 128, H, W] activations and a (h·w)² attention matrix at once).</summary>
    public long AutoTileAbovePixels { get; init; } = 1024L * 1024;

    /// <summary>Everything loaded, automatic tiling.</summary>
    public static AutoencoderKlOptions Default { get; } = new();
}

/// <summary>The encoder's output: a diagonal Gaussian over latents [B, C, h, w], before scaling and shift.</summary>
/// <param name="Mean">The posterior mean (what <c>tessera vae encode</c> writes).</param>
/// <param name="LogVar">The log-variance, clamped to [-30, 20] as diffusers does.</param>
public sealed record AutoencoderKlPosterior(Tensor Mean, Tensor LogVar) : IDisposable
{
    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
    }
}

/// <summary>Stable Diffusion's variational autoencoder (diffusers' <c>AutoencoderKL</c>: vae/config.json and
/// diffusion_pytorch_model.safetensors, as SD 1.x/2.x, SDXL, SD3 and FLUX publish it). Images are [B, 3, H, W] in
/// [-1, 1]; latents [B, C, H/f, W/f] unscaled (the posterior's own space); <see cref="DecodeModelLatent"/> takes the
/// diffusion model's latents instead (latent / scaling_factor + shift_factor) and gives images in [0, 1].</summary>
public sealed class AutoencoderKl : ILatentDecoder
{
    private readonly WeightSet _weights;
    private readonly KlEncoder? _encoder;
    private readonly KlDecoder? _decoder;
    private readonly TaeConv? _quantConv, _postQuantConv;

    private AutoencoderKl(WeightSet weights, AutoencoderKlConfig config, AutoencoderKlOptions options, KlEncoder? encoder,
        KlDecoder? decoder, TaeConv? quantConv, TaeConv? postQuantConv)
    {
        (_weights, Config, Options, _encoder, _decoder, _quantConv, _postQuantConv) = (weights, config, options, encoder, decoder, quantConv, postQuantConv);
    }

    /// <summary>The network's configuration.</summary>
    public AutoencoderKlConfig Config { get; }

    /// <summary>What was loaded and how large latents decode.</summary>
    public AutoencoderKlOptions Options { get; }

    /// <inheritdoc/>
    public int LatentChannels => Config.LatentChannels;

    /// <inheritdoc/>
    public int SpatialFactor => Config.SpatialFactor;

    /// <summary>Whether <see cref="Encode"/> is available.</summary>
    public bool HasEncoder => _encoder is not null;

    /// <summary>Whether <see cref="Decode"/> is available.</summary>
    public bool HasDecoder => _decoder is not null;

    /// <summary>Opens a diffusers folder (the pipeline's, with a vae/ subfolder, or the vae/ folder itself: config.json
    /// and diffusion_pytorch_model.safetensors) or a weight file with the config.json beside it.</summary>
    public static AutoencoderKl Open(IBackend backend, string path, AutoencoderKlOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var (configPath, weightsPath) = Locate(path);
        var config = AutoencoderKlConfig.Load(configPath);
        var wb = WeightBuilder.Open(backend, weightsPath);
        try
        {
            return Load(wb, config, options);
        }
        finally
        {
            wb.Dispose();
        }
    }

    /// <summary>Whether <paramref name="path"/> looks like an AutoencoderKL (a folder with a config.json, directly or under
    /// vae/, or a file with one beside it whose _class_name is AutoencoderKL or absent).</summary>
    public static bool IsAutoencoderKl(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? config = Directory.Exists(path)
            ? new[] { Path.Combine(path, "vae", "config.json"), Path.Combine(path, "config.json") }.FirstOrDefault(File.Exists)
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "config.json") is { } beside && File.Exists(beside) ? beside : null;
        if (config is null) return false;
        string text = File.ReadAllText(config);
        return text.Contains("\"AutoencoderKL\"", StringComparison.Ordinal)
            || (!text.Contains("\"_class_name\"", StringComparison.Ordinal) && text.Contains("\"latent_channels\"", StringComparison.Ordinal));
    }

    // (config.json, weights) for a folder, a vae/ subfolder or a file.
    private static (string Config, string Weights) Locate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path))
        {
            string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "config.json");
            if (!File.Exists(beside)) throw new TesseraException($"{path}: an AutoencoderKL weight file needs its config.json beside it ({beside} is absent)");
            return (beside, path);
        }
        if (!Directory.Exists(path)) throw new TesseraException($"{path}: no such file or folder");
        string dir = File.Exists(Path.Combine(path, "config.json")) ? path : Path.Combine(path, "vae");
        if (!File.Exists(Path.Combine(dir, "config.json")))
            throw new TesseraException($"{path}: neither it nor its vae/ subfolder holds a config.json (a diffusers AutoencoderKL folder)");
        string[] candidates = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin"];
        string? weights = candidates.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
        if (weights is null)
        {
            var any = Directory.GetFiles(dir, "*.safetensors");
            if (any.Length != 1) throw new TesseraException($"{dir}: no diffusion_pytorch_model.safetensors (and {any.Length} other .safetensors files)");
            weights = any[0];
        }
        return (Path.Combine(dir, "config.json"), weights);
    }

    /// <summary>Loads from a builder whose prefix is the model's root ("encoder.conv_in.weight", ...).</summary>
    public static AutoencoderKl Load(WeightBuilder wb, AutoencoderKlConfig config, AutoencoderKlOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        options ??= AutoencoderKlOptions.Default;
        config.Validate();
        if (!options.LoadEncoder && !options.LoadDecoder) throw new TesseraException("AutoencoderKL: load the encoder, the decoder or both");
        if (options.TileOverlap is < 0 or >= 1 || double.IsNaN(options.TileOverlap))
            throw new TesseraException($"AutoencoderKL: the tile overlap must be in [0, 1), got {options.TileOverlap}");
        if (options.TileSize is int tile && tile != 0 && (tile < 0 || tile % config.SpatialFactor != 0))
            throw new TesseraException($"AutoencoderKL: the tile size {tile} must be a positive multiple of the spatial factor {config.SpatialFactor} (or 0 for no tiling)");
        int c = config.LatentChannels;
        var encoder = options.LoadEncoder ? new KlEncoder(wb.Pp("encoder"), config) : null;
        var quant = options.LoadEncoder && config.UseQuantConv ? TaeConv.Load(wb.Pp("quant_conv"), 2 * c, 2 * c, 1, true) : null;
        var decoder = options.LoadDecoder ? new KlDecoder(wb.Pp("decoder"), config) : null;
        var postQuant = options.LoadDecoder && config.UsePostQuantConv ? TaeConv.Load(wb.Pp("post_quant_conv"), c, c, 1, true) : null;
        return new AutoencoderKl(wb.Commit(), config, options, encoder, decoder, quant, postQuant);
    }

    /// <summary>Image [B, in_channels, H, W] in [-1, 1] (H and W multiples of the spatial factor) -> the posterior; large
    /// images encode in blended tiles as <see cref="Options"/> says.</summary>
    public AutoencoderKlPosterior Encode(Tensor image)
    {
        CheckImage(image);
        int f = SpatialFactor;
        int tileLatent = TilePixels((long)image.Dim(2) * image.Dim(3)) / f;
        if (tileLatent > 0 && (image.Dim(2) > tileLatent * f || image.Dim(3) > tileLatent * f))
            return EncodeTiled(image, tileLatent, Options.TileOverlap);
        return Posterior(EncodeWhole(image), image.Backend);
    }

    /// <summary>Encodes in image tiles of <paramref name="tileLatent"/> x f pixels a side, neighbours overlapping by
    /// round(tile x <paramref name="overlap"/>) latent positions, the moments blended linearly across the overlap
    /// (diffusers' AutoencoderKL.tiled_encode, then the posterior of the blended moments).</summary>
    public AutoencoderKlPosterior EncodeTiled(Tensor image, int tileLatent, double overlap = 0.25)
    {
        CheckImage(image);
        return Posterior(KlTiling.Encode(image, tileLatent, overlap, SpatialFactor, EncodeWhole), image.Backend);
    }

    // The moments [B, 2C, h, w]: the encoder, then quant_conv.
    private Tensor EncodeWhole(Tensor image)
    {
        using var x = image.To(DType.F32);
        var moments = _encoder!.Forward(x);
        if (_quantConv is not null) KlEncoder.Step(ref moments, _quantConv.Forward(moments));
        return moments;
    }

    // Splits the moments (disposed here) into mean and log-variance, clamped to [-30, 20] as DiagonalGaussianDistribution does.
    private AutoencoderKlPosterior Posterior(Tensor moments, IBackend backend)
    {
        using var _ = moments;
        int c = LatentChannels;
        using var meanView = moments.Narrow(1, 0, c);
        using var logVarView = moments.Narrow(1, c, c);
        using var logVarRaw = logVarView.Contiguous();
        var lv = logVarRaw.ToFloatArray();
        for (int i = 0; i < lv.Length; i++) lv[i] = Math.Clamp(lv[i], -30f, 20f);
        return new AutoencoderKlPosterior(meanView.Contiguous(), Tensor.FromArray(backend, lv, [.. logVarRaw.Shape.Dims]));
    }

    // The tile side in pixels for an image of this many pixels: the option, or automatic (0: whole).
    private int TilePixels(long pixels) =>
        Options.TileSize ?? (pixels > Options.AutoTileAbovePixels ? Config.SampleSize / SpatialFactor * SpatialFactor : 0);

    private void CheckImage(Tensor image)
    {
        if (_encoder is null) throw new TesseraException("AutoencoderKL: the encoder was not loaded (AutoencoderKlOptions.LoadEncoder)");
        ArgumentNullException.ThrowIfNull(image);
        int f = SpatialFactor;
        if (image.Rank != 4 || image.Dim(1) != Config.InChannels)
            throw new TesseraException($"AutoencoderKL encoder: the image must be [B, {Config.InChannels}, H, W], got {image.Shape}");
        if (image.Dim(2) % f != 0 || image.Dim(3) % f != 0)
            throw new TesseraException($"AutoencoderKL encoder: the image is {image.Dim(3)}x{image.Dim(2)}, not a multiple of the latent factor {f}");
    }

    /// <summary>Latent [B, C, h, w] (unscaled) -> image [B, out_channels, h·f, w·f], nominally in [-1, 1]; large
    /// latents decode in blended tiles as <see cref="Options"/> says.</summary>
    public Tensor Decode(Tensor latent)
    {
        CheckLatent(latent);
        int f = SpatialFactor;
        int tileLatent = TilePixels((long)latent.Dim(2) * latent.Dim(3) * f * f) / f;
        if (tileLatent > 0 && (latent.Dim(2) > tileLatent || latent.Dim(3) > tileLatent))
            return DecodeTiled(latent, tileLatent, Options.TileOverlap);
        return DecodeWhole(latent);
    }

    /// <summary>Decodes in tiles of <paramref name="tileLatent"/> latent positions a side, neighbours overlapping by
    /// round(tile x <paramref name="overlap"/>) positions and blended linearly across the overlap (diffusers'
    /// AutoencoderKL.tiled_decode).</summary>
    public Tensor DecodeTiled(Tensor latent, int tileLatent, double overlap = 0.25)
    {
        CheckLatent(latent);
        return KlTiling.Decode(latent, tileLatent, overlap, SpatialFactor, DecodeWhole);
    }

    /// <inheritdoc/>
    /// <remarks>latent / scaling_factor + shift_factor, decoded, then mapped from [-1, 1] to [0, 1].</remarks>
    public Tensor DecodeModelLatent(Tensor latent)
    {
        CheckLatent(latent);
        using var unscaled = latent.Affine(1 / Config.ScalingFactor, Config.ShiftFactor ?? 0);
        using var image = Decode(unscaled);
        return image.Affine(0.5, 0.5);
    }

    /// <summary>An unscaled latent (the posterior mean) in the diffusion model's space: (latent - shift) x scaling.</summary>
    public Tensor ToModelLatent(Tensor latent)
    {
        ArgumentNullException.ThrowIfNull(latent);
        return latent.Affine(Config.ScalingFactor, -(Config.ShiftFactor ?? 0) * Config.ScalingFactor);
    }

    private Tensor DecodeWhole(Tensor latent)
    {
        using var z = latent.To(DType.F32);
        using var q = _postQuantConv?.Forward(z);
        return _decoder!.Forward(q ?? z);
    }

    private void CheckLatent(Tensor latent)
    {
        if (_decoder is null) throw new TesseraException("AutoencoderKL: the decoder was not loaded (AutoencoderKlOptions.LoadDecoder)");
        ArgumentNullException.ThrowIfNull(latent);
        if (latent.Rank != 4 || latent.Dim(1) != LatentChannels)
            throw new TesseraException($"AutoencoderKL decoder: the latent must be [B, {LatentChannels}, h, w], got {latent.Shape}");
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
