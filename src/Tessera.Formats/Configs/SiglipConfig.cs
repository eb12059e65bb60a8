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
    public IEnumerable<(string Key, string Problem)> Problems() => ConfigChecks.TwoTowers(
        TextConfig.NumAttentionHeads, TextConfig.HiddenSize, VisionConfig.NumAttentionHeads, VisionConfig.HiddenSize,
        VisionConfig.PatchSize, VisionConfig.ImageSize);
}
