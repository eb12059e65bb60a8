namespace Tessera.Formats.Configs;

/// <summary>A LLaMA-family config's <c>rope_scaling</c>: the kind (<c>rope_type</c>, or <c>type</c> in older files:
/// "linear", "dynamic", "yarn", "longrope", "llama3") and its parameters; keys a kind does not use stay null.</summary>
public sealed record RopeScaling
{
    /// <summary>The kind, from <c>rope_type</c>.</summary>
    public string? RopeType { get; set; }

    /// <summary>The kind as older files write it (<c>type</c>).</summary>
    public string? Type { get; set; }

    /// <summary>The scaling factor.</summary>
    public double? Factor { get; set; }

    /// <summary>Llama 3: the low-frequency factor.</summary>
    public double? LowFreqFactor { get; set; }

    /// <summary>Llama 3: the high-frequency factor.</summary>
    public double? HighFreqFactor { get; set; }

    /// <summary>Llama 3 and YaRN: the context length the model was trained with.</summary>
    public int? OriginalMaxPositionEmbeddings { get; set; }

    /// <summary>YaRN: the attention temperature factor.</summary>
    public double? AttentionFactor { get; set; }

    /// <summary>YaRN: beta_fast.</summary>
    public double? BetaFast { get; set; }

    /// <summary>YaRN: beta_slow.</summary>
    public double? BetaSlow { get; set; }

    /// <summary>The kind, whichever key holds it ("default" when neither does).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Kind => RopeType ?? Type ?? "default";
}
