using System.Globalization;

namespace Tessera.Imaging;

/// <summary>How the first resize of a vision processor sizes the image.</summary>
public enum ResizeMode
{
    /// <summary>To exactly <see cref="ImageProcessorOptions.Width"/> x <see cref="ImageProcessorOptions.Height"/> (ViT, SigLIP).</summary>
    Exact,
    /// <summary>The shorter side to <see cref="ImageProcessorOptions.ShortestEdge"/>, the longer in proportion, truncated as
    /// transformers' get_resize_output_image_size does: int(size * long / short) (CLIP).</summary>
    ShortestEdge,
}

/// <summary>A vision model's preprocessing, mirroring a Hugging Face <c>preprocessor_config.json</c>: convert to RGB,
/// resize (through <see cref="PillowResize"/>, as the processors resize through Pillow), centre crop, rescale,
/// normalise, channels first.</summary>
/// <param name="Resize">Whether and how to resize (null: no resize).</param>
/// <param name="Width">Target width for <see cref="ResizeMode.Exact"/>.</param>
/// <param name="Height">Target height for <see cref="ResizeMode.Exact"/>.</param>
/// <param name="ShortestEdge">Target shorter side for <see cref="ResizeMode.ShortestEdge"/>.</param>
/// <param name="Filter">Resampling filter (Pillow's; CLIP uses bicubic, ViT and SigLIP bilinear/bicubic per config).</param>
/// <param name="CropWidth">Centre-crop width (null: no crop).</param>
/// <param name="CropHeight">Centre-crop height.</param>
/// <param name="RescaleFactor">Multiplies the 8-bit values (1/255), or null for none.</param>
/// <param name="Mean">Per-channel mean subtracted after rescaling (R, G, B), or null.</param>
/// <param name="Std">Per-channel standard deviation divided by, or null.</param>
public sealed record ImageProcessorOptions(ResizeMode? Resize, int Width, int Height, int ShortestEdge, ResizeFilter Filter,
    int? CropWidth, int? CropHeight, double? RescaleFactor, float[]? Mean, float[]? Std)
{
    /// <summary>OpenAI CLIP's normalisation constants.</summary>
    public static readonly float[] ClipMean = [0.48145466f, 0.4578275f, 0.40821073f], ClipStd = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>CLIPImageProcessor at a given size (224 for ViT-B/32, B/16, L/14; 336 for L/14-336).</summary>
    public static ImageProcessorOptions Clip(int size = 224) =>
        new(ResizeMode.ShortestEdge, 0, 0, size, ResizeFilter.Bicubic, size, size, 1 / 255.0, ClipMean, ClipStd);

    /// <summary>ViTImageProcessor (google/vit-base-patch16-224: bilinear to 224x224, mean = std = 0.5).</summary>
    public static ImageProcessorOptions Vit(int size = 224, ResizeFilter filter = ResizeFilter.Bilinear) =>
        new(ResizeMode.Exact, size, size, 0, filter, null, null, 1 / 255.0, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    /// <summary>SiglipImageProcessor (bicubic to 224x224, mean = std = 0.5).</summary>
    public static ImageProcessorOptions Siglip(int size = 224) => Vit(size, ResizeFilter.Bicubic);

    /// <summary>The output's (width, height) for an input of the given size.</summary>
    public (int Width, int Height) OutputSize(int width, int height)
    {
        (int w, int h) = ResizedSize(width, height);
        return (CropWidth ?? w, CropHeight ?? h);
    }

    internal (int Width, int Height) ResizedSize(int width, int height)
    {
        switch (Resize)
        {
            case null: return (width, height);
            case ResizeMode.Exact: return (Width, Height);
            default:
                int shortSide = Math.Min(width, height), longSide = Math.Max(width, height);
                int newLong = (int)((double)ShortestEdge * longSide / shortSide);
                return width <= height ? (ShortestEdge, newLong) : (newLong, ShortestEdge);
        }
    }

    /// <summary>Checks the options, naming what is wrong.</summary>
    public void Validate()
    {
        if (Resize == ResizeMode.Exact && (Width <= 0 || Height <= 0)) throw new TesseraException($"image processor: resize to {Width}x{Height}");
        if (Resize == ResizeMode.ShortestEdge && ShortestEdge <= 0) throw new TesseraException($"image processor: shortest edge {ShortestEdge}");
        if ((CropWidth is null) != (CropHeight is null) || CropWidth <= 0 || CropHeight <= 0)
            throw new TesseraException($"image processor: crop {CropWidth?.ToString(CultureInfo.InvariantCulture) ?? "none"}x{CropHeight?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
        if (Mean is { Length: not 3 } || Std is { Length: not 3 } || Std?.Any(s => s == 0) == true)
            throw new TesseraException("image processor: mean and std need 3 values (R, G, B), std nonzero");
    }
}

/// <summary>Runs <see cref="ImageProcessorOptions"/> on images: the result is what a Hugging Face processor's
/// <c>pixel_values</c> holds, float32, [3, H, W] per image.</summary>
public static class ImageProcessor
{
    /// <summary>Largest input accepted, in pixels: an image past it is refused before anything is allocated for it.</summary>
    public const long MaxInputPixels = ImageDecoder.DefaultMaxPixels;

    /// <summary>One image's pixel values, channels first (R, G, B planes).</summary>
    public static float[] Process(Image image, ImageProcessorOptions options)
    {
        options.Validate();
        image.Validate();
        if ((long)image.Width * image.Height > MaxInputPixels)
            throw new TesseraException($"image of {image.Width}x{image.Height} pixels exceeds the {MaxInputPixels}-pixel limit");
        var rgb = image.AsRgb();
        var (rw, rh) = options.ResizedSize(rgb.Width, rgb.Height);
        if (options.Resize is not null) rgb = PillowResize.Resize(rgb, rw, rh, options.Filter);
        if (options.CropWidth is { } cw && options.CropHeight is { } ch) rgb = ImageCrop.CenterCrop(rgb, cw, ch);
        return Normalize(rgb, options);
    }

    /// <summary>A batch as one tensor [B, 3, H, W]; every image must come out at the same size (true whenever the
    /// options resize exactly or crop).</summary>
    public static Tensor ToTensor(IBackend backend, IReadOnlyList<Image> images, ImageProcessorOptions options)
    {
        if (images.Count == 0) throw new TesseraException("image processor: no images");
        float[]? all = null;
        int h = 0, w = 0;
        for (int i = 0; i < images.Count; i++)
        {
            var (ow, oh) = options.OutputSize(images[i].Width, images[i].Height);
            if (i == 0) { w = ow; h = oh; all = new float[images.Count * 3 * h * w]; }
            else if (ow != w || oh != h)
                throw new TesseraException($"image processor: image {i} comes out {ow}x{oh}, image 0 {w}x{h}; a batch needs one size (crop or resize exactly)");
            Process(images[i], options).CopyTo(all!, i * 3 * h * w);
        }
        return Tensor.FromArray(backend, all!, images.Count, 3, h, w);
    }

    // transformers' rescale (x in float64 times the factor, cast to float32) then normalize ((x - mean) / std in float32).
    private static float[] Normalize(Image rgb, ImageProcessorOptions o)
    {
        int plane = rgb.Width * rgb.Height;
        var r = new float[3 * plane];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
            {
                float v = o.RescaleFactor is { } s ? (float)(rgb.Pixels[i * 3 + c] * s) : rgb.Pixels[i * 3 + c];
                if (o.Mean is not null) v -= o.Mean[c];
                if (o.Std is not null) v /= o.Std[c];
                r[c * plane + i] = v;
            }
        return r;
    }
}
