using Tessera.Formats.Configs;

namespace Tessera.Formats.Tests;

/// <summary>preprocessor_config.json: the size forms and the per-class defaults transformers applies.</summary>
public class ConfigPreprocessorTests
{
    [Fact]
    public void AnOldClipFileWithBareIntegersResizesTheShortestEdgeAndCropsASquare()
    {
        var p = HfConfig.Parse<PreprocessorConfig>("""
            {"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true, "feature_extractor_type": "CLIPFeatureExtractor",
             "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}
            """, "preprocessor_config.json");
        Assert.Equal(new ImageSize(ShortestEdge: 224), p.Size);
        Assert.Equal(ImageSize.Square(224), p.CropSize);
        Assert.Equal(3, p.Resample);
        Assert.True(p.DoCenterCrop);
        Assert.True(p.DoRescale);
        Assert.Equal(1.0 / 255, p.RescaleFactor);
        Assert.Equal(PreprocessorConfig.OpenAiClipMean, p.ImageMean);
        Assert.True(p.DoConvertRgb);
    }

    [Fact]
    public void ANewClipFileReadsItsObjects()
    {
        var p = HfConfig.Parse<PreprocessorConfig>("""
            {"crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "do_convert_rgb": true, "do_normalize": true, "do_rescale": true,
             "do_resize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
             "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336}}
            """);
        Assert.Equal(new ImageSize(ShortestEdge: 336), p.Size);
        Assert.Equal(ImageSize.Square(224), p.CropSize);
        Assert.Equal(0.00392156862745098, p.RescaleFactor);
    }

    [Fact]
    public void ViTAndSiglipDefaultToSquaresAndHalfHalfNormalization()
    {
        var vit = HfConfig.Parse<PreprocessorConfig>("""{"do_normalize": true, "do_resize": true, "feature_extractor_type": "ViTFeatureExtractor", "size": 384}""");
        Assert.Equal(ImageSize.Square(384), vit.Size);
        Assert.Equal(2, vit.Resample); // bilinear
        Assert.False(vit.DoCenterCrop);
        Assert.Null(vit.CropSize);
        Assert.Equal(PreprocessorConfig.HalfHalf, vit.ImageMean);
        Assert.Equal(PreprocessorConfig.HalfHalf, vit.ImageStd);

        var siglip = HfConfig.Parse<PreprocessorConfig>("""{"image_processor_type": "SiglipImageProcessor", "processor_class": "SiglipProcessor"}""");
        Assert.Equal(ImageSize.Square(224), siglip.Size);
        Assert.Equal(3, siglip.Resample); // bicubic
        Assert.Equal(PreprocessorConfig.HalfHalf, siglip.ImageStd);
    }

    [Fact]
    public void AnUnknownProcessorKeepsWhatTheFileSaysAndNothingMore()
    {
        var p = HfConfig.Parse<PreprocessorConfig>("""{"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 384}, "crop_pct": 0.875}""");
        Assert.Equal(new ImageSize(ShortestEdge: 384), p.Size);
        Assert.Null(p.Resample);
        Assert.Null(p.ImageMean);
        Assert.Null(p.DoCenterCrop);
        Assert.True(p.DoNormalize);
        var bare = HfConfig.Parse<PreprocessorConfig>("""{"size": 256, "crop_size": 224, "longest": {"longest_edge": 5}}""");
        Assert.Equal(ImageSize.Square(256), bare.Size); // no class: transformers' default_to_square
        Assert.Equal(ImageSize.Square(224), bare.CropSize);
        Assert.Equal(new ImageSize(ShortestEdge: 800, LongestEdge: 1333),
            HfConfig.Parse<PreprocessorConfig>("""{"size": {"shortest_edge": 800, "longest_edge": 1333}}""").Size);
    }
}
