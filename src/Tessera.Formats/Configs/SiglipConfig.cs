namespace Tessera.Formats.Configs;

/// <summary>A SigLIP model's <c>config.json</c> (transformers' <c>SiglipConfig</c>): the two towers; the learned
/// <c>logit_scale</c> and <c>logit_bias</c> are weights, not config keys.</summary>
public sealed record SiglipConfig : IHfConfig<SiglipConfig>
{
    /// <inheritdoc/>
    public static string FileName => "config.json";

    /// <summary>The text tower.</summary>
    public SiglipTextConfig TextConfig { get; set; } = new();

    /// <summary>The vision tower.</summary>
    public SiglipVisionConfig VisionConfig { get; set; } = new();

    /// <summary>"siglip".</summary>
    public string ModelType { get; set; } = "siglip";

    /// <inheritdoc/>
    public IEnumerable<(string Key, string Problem)> Problems()
    {
        if (TextConfig.NumAttentionHeads <= 0 || TextConfig.HiddenSize % TextConfig.NumAttentionHeads != 0)
            yield return ("text_config.num_attention_heads", $"is {TextConfig.NumAttentionHeads}, expected a positive divisor of hidden_size {TextConfig.HiddenSize}");
        if (VisionConfig.NumAttentionHeads <= 0 || VisionConfig.HiddenSize % VisionConfig.NumAttentionHeads != 0)
            yield return ("vision_config.num_attention_heads", $"is {VisionConfig.NumAttentionHeads}, expected a positive divisor of hidden_size {VisionConfig.HiddenSize}");
        if (VisionConfig.PatchSize <= 0 || VisionConfig.ImageSize % VisionConfig.PatchSize != 0)
            yield return ("vision_config.patch_size", $"is {VisionConfig.PatchSize}, expected a positive divisor of image_size {VisionConfig.ImageSize}");
    }
}
