using Tessera.Formats.Configs;
using Tessera.Imaging;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>preprocessor_config.json files as the published checkpoints ship them become the processors transformers
/// runs: CLIP's shortest edge 224 + bicubic + centre crop 224 with OpenAI's mean and std; ViT's bilinear 224 x 224 with
/// 0.5; SigLIP's bicubic 224 x 224 with 0.5; the older bare-integer form too.</summary>
public sealed class VisionPreprocessingTests
{
    private static ImageProcessorOptions From(string json) => VisionPreprocessing.FromConfig(HfConfig.Parse<PreprocessorConfig>(json, "preprocessor_config.json"));

    private static void Same(ImageProcessorOptions expected, ImageProcessorOptions actual)
    {
        Assert.Equal((expected.Resize, expected.Width, expected.Height, expected.ShortestEdge, expected.Filter, expected.CropWidth, expected.CropHeight),
            (actual.Resize, actual.Width, actual.Height, actual.ShortestEdge, actual.Filter, actual.CropWidth, actual.CropHeight));
        Assert.Equal(expected.RescaleFactor!.Value, actual.RescaleFactor!.Value, 12);
        Assert.Equal(expected.Mean, actual.Mean);
        Assert.Equal(expected.Std, actual.Std);
    }

    [Fact]
    public void Clip_vit_and_siglip_configs_give_their_processors()
    {
        Same(ImageProcessorOptions.Clip(224), From("""
            {"crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "do_normalize": true, "do_resize": true,
             "image_processor_type": "CLIPImageProcessor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
             "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": {"shortest_edge": 224}}
            """));
        Same(ImageProcessorOptions.Clip(336), From("""{"feature_extractor_type": "CLIPFeatureExtractor", "size": 336, "crop_size": 336, "do_center_crop": true}"""));
        Same(ImageProcessorOptions.Vit(224), From("""
            {"do_normalize": true, "do_resize": true, "image_processor_type": "ViTImageProcessor", "image_mean": [0.5, 0.5, 0.5],
             "image_std": [0.5, 0.5, 0.5], "resample": 2, "size": {"height": 224, "width": 224}}
            """));
        Same(ImageProcessorOptions.Siglip(224), From("""{"image_processor_type": "SiglipImageProcessor", "size": {"height": 224, "width": 224}}"""));
    }

    [Fact]
    public void Flags_that_turn_steps_off_are_kept()
    {
        var o = From("""{"image_processor_type": "ViTImageProcessor", "do_resize": false, "do_normalize": false, "do_rescale": false}""");
        Assert.Null(o.Resize);
        Assert.Null(o.Mean);
        Assert.Null(o.RescaleFactor);
    }
}
