namespace Tessera.Formats.Configs;

/// <summary>An image processor's <c>preprocessor_config.json</c>: resize, center crop, rescale and normalize settings.
/// Keys whose defaults depend on the processor class (CLIP's, ViT's, SigLIP's) are filled in by <see cref="Resolved"/>
/// (which <see cref="HfConfig.Load{T}"/> calls) from <see cref="ImageProcessorType"/>, as transformers' constructors
/// fill them; for other classes they stay null when the file omits them.</summary>
public sealed record PreprocessorConfig : IHfConfig<PreprocessorConfig>
{
    /// <inheritdoc/>
    public static string FileName => "preprocessor_config.json";

    /// <summary>OpenAI CLIP's channel means.</summary>
    public static IReadOnlyList<float> OpenAiClipMean { get; } = [0.48145466f, 0.4578275f, 0.40821073f];

    /// <summary>OpenAI CLIP's channel standard deviations.</summary>
    public static IReadOnlyList<float> OpenAiClipStd { get; } = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>transformers' IMAGENET_STANDARD_MEAN and _STD: 0.5 each.</summary>
    public static IReadOnlyList<float> HalfHalf { get; } = [0.5f, 0.5f, 0.5f];

    /// <summary>"CLIPImageProcessor", "ViTImageProcessor", "SiglipImageProcessor", ...</summary>
    public string? ImageProcessorType { get; set; }

    /// <summary>The class as older files name it ("CLIPFeatureExtractor").</summary>
    public string? FeatureExtractorType { get; set; }

    /// <summary>Whether to resize (true).</summary>
    public bool DoResize { get; set; } = true;

    /// <summary>The resize target.</summary>
    public ImageSize? Size { get; set; }

    /// <summary>PIL's resampling filter: 0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming.</summary>
    public int? Resample { get; set; }

    /// <summary>Whether to center-crop after resizing.</summary>
    public bool? DoCenterCrop { get; set; }

    /// <summary>The crop (a bare integer is a square).</summary>
    public ImageSize? CropSize { get; set; }

    /// <summary>Whether to multiply pixel values by <see cref="RescaleFactor"/> (true).</summary>
    public bool DoRescale { get; set; } = true;

    /// <summary>The rescale factor (1/255).</summary>
    public double RescaleFactor { get; set; } = 1.0 / 255;

    /// <summary>Whether to normalize with <see cref="ImageMean"/> and <see cref="ImageStd"/> (true).</summary>
    public bool DoNormalize { get; set; } = true;

    /// <summary>Per-channel means.</summary>
    public IReadOnlyList<float>? ImageMean { get; set; }

    /// <summary>Per-channel standard deviations.</summary>
    public IReadOnlyList<float>? ImageStd { get; set; }

    /// <summary>Whether to convert images to RGB first.</summary>
    public bool? DoConvertRgb { get; set; }

    /// <summary>The processor class, whichever key names it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? ProcessorClass => ImageProcessorType ?? FeatureExtractorType;

    /// <inheritdoc/>
    public PreprocessorConfig Resolved()
    {
        string cls = ProcessorClass ?? "";
        bool clip = cls.StartsWith("CLIP", StringComparison.Ordinal);
        bool square = !clip; // get_size_dict(default_to_square=False) for CLIP's resize only
        if (!clip && !cls.StartsWith("ViT", StringComparison.Ordinal) && !cls.StartsWith("Siglip", StringComparison.Ordinal))
            return this with { Size = Size?.Resolve(square), CropSize = CropSize?.Resolve(true) };
        bool vit = cls.StartsWith("ViT", StringComparison.Ordinal);
        return this with
        {
            Size = (Size ?? (clip ? new ImageSize(ShortestEdge: 224) : ImageSize.Square(224))).Resolve(square),
            Resample = Resample ?? (vit ? 2 : 3),
            DoCenterCrop = DoCenterCrop ?? clip,
            CropSize = (CropSize ?? (clip ? ImageSize.Square(224) : null))?.Resolve(true),
            ImageMean = ImageMean ?? (clip ? OpenAiClipMean : HalfHalf),
            ImageStd = ImageStd ?? (clip ? OpenAiClipStd : HalfHalf),
            DoConvertRgb = DoConvertRgb ?? (clip ? true : null),
        };
    }

    /// <inheritdoc/>
    public IEnumerable<(string Key, string Problem)> Problems()
    {
        if (ImageMean is { } m && ImageStd is { } s && m.Count != s.Count)
            yield return ("image_std", $"has {s.Count} values, image_mean has {m.Count}");
        if (ImageStd is { } std && std.Any(v => !(v > 0)))
            yield return ("image_std", $"is [{string.Join(", ", std)}], expected positive values");
        if (Resample is { } r && r is < 0 or > 5)
            yield return ("resample", $"is {r}, expected a PIL filter number 0-5");
        if (!(RescaleFactor > 0)) yield return ("rescale_factor", $"is {RescaleFactor}, expected a positive number");
    }
}
