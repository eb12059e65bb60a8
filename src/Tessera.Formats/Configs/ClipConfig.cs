namespace Tessera.Formats.Configs;

/// <summary>A CLIP model's <c>config.json</c> (transformers' <c>CLIPConfig</c>): the two towers and the projection into
/// their shared space. Absent towers take transformers' defaults.</summary>
public sealed record ClipConfig : IHfConfig<ClipConfig>
{
    /// <inheritdoc/>
    public static string FileName => "config.json";

    /// <summary>The text tower.</summary>
    public ClipTextConfig TextConfig { get; set; } = new();

    /// <summary>The vision tower.</summary>
    public ClipVisionConfig VisionConfig { get; set; } = new();

    /// <summary>Width of the shared embedding space (512).</summary>
    public int ProjectionDim { get; set; } = 512;

    /// <summary>The initial logit scale, log(1/0.07) = 2.6592 (the trained value is the <c>logit_scale</c> weight).</summary>
    public double LogitScaleInitValue { get; set; } = 2.6592;

    /// <summary>"clip".</summary>
    public string ModelType { get; set; } = "clip";

    /// <inheritdoc/>
    public IEnumerable<(string Key, string Problem)> Problems() => ConfigChecks.TwoTowers(
        TextConfig.NumAttentionHeads, TextConfig.HiddenSize, VisionConfig.NumAttentionHeads, VisionConfig.HiddenSize,
        VisionConfig.PatchSize, VisionConfig.ImageSize);
}
