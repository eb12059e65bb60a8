using Tessera.Formats.Configs;
using Tessera.Imaging;

namespace Tessera.Models.Vision;

/// <summary>The image processor a model directory's <c>preprocessor_config.json</c> describes, as
/// <see cref="ImageProcessorOptions"/>.</summary>
public static class VisionPreprocessing
{
    /// <summary>The options of a (resolved) preprocessor config: resize to height x width or the shortest edge, with its
    /// Pillow filter, centre crop, rescale and normalise as the flags say.</summary>
    public static ImageProcessorOptions FromConfig(PreprocessorConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var size = config.Size;
        ResizeMode? mode = !config.DoResize || size is null ? null
            : size.Height is not null ? ResizeMode.Exact
            : size.ShortestEdge is not null ? ResizeMode.ShortestEdge
            : throw new TesseraException($"preprocessor_config.json: size {size} is not supported (height/width or shortest_edge)");
        bool crop = config.DoCenterCrop == true && config.CropSize is { Height: not null };
        var options = new ImageProcessorOptions(mode, size?.Width ?? 0, size?.Height ?? 0, size?.ShortestEdge ?? 0, (ResizeFilter)(config.Resample ?? 3),
            crop ? config.CropSize!.Width : null, crop ? config.CropSize!.Height : null,
            config.DoRescale ? config.RescaleFactor : null,
            config.DoNormalize ? config.ImageMean?.ToArray() : null, config.DoNormalize ? config.ImageStd?.ToArray() : null);
        options.Validate();
        return options;
    }

    /// <summary>The directory's preprocessor_config.json, or, when it has none, the default processor of the model
    /// kind ("clip", "siglip", "vit") at <paramref name="imageSize"/>.</summary>
    public static ImageProcessorOptions ForModel(string directory, string kind, int imageSize)
    {
        if (File.Exists(Path.Combine(directory, PreprocessorConfig.FileName)))
            return FromConfig(HfConfig.Load<PreprocessorConfig>(directory));
        return kind switch
        {
            "clip" => ImageProcessorOptions.Clip(imageSize),
            "siglip" => ImageProcessorOptions.Siglip(imageSize),
            _ => ImageProcessorOptions.Vit(imageSize),
        };
    }
}
