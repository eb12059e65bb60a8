namespace Tessera.Formats.Configs;

/// <summary>A ViT's <c>config.json</c> (transformers' <c>ViTConfig</c>). The encoder's sizes are required; the rest
/// default as transformers' constructor does.</summary>
public sealed record VitConfig : IHfConfig<VitConfig>
{
    /// <inheritdoc/>
    public static string FileName => "config.json";

    /// <summary>Width of the residual stream.</summary>
    public required int HiddenSize { get; set; }

    /// <summary>Number of encoder layers.</summary>
    public required int NumHiddenLayers { get; set; }

    /// <summary>Number of attention heads.</summary>
    public required int NumAttentionHeads { get; set; }

    /// <summary>Width of the MLP's hidden layer.</summary>
    public required int IntermediateSize { get; set; }

    /// <summary>The MLP's activation ("gelu").</summary>
    public string HiddenAct { get; set; } = "gelu";

    /// <summary>LayerNorm epsilon (1e-12).</summary>
    public double LayerNormEps { get; set; } = 1e-12;

    /// <summary>Input resolution (224).</summary>
    public int ImageSize { get; set; } = 224;

    /// <summary>Patch side (16).</summary>
    public int PatchSize { get; set; } = 16;

    /// <summary>Input channels (3).</summary>
    public int NumChannels { get; set; } = 3;

    /// <summary>Whether q/k/v have biases (true).</summary>
    public bool QkvBias { get; set; } = true;

    /// <summary>Stride of the masked-image-modelling decoder (16).</summary>
    public int EncoderStride { get; set; } = 16;

    /// <summary>Width of the pooler's output, or null for the hidden size.</summary>
    public int? PoolerOutputSize { get; set; }

    /// <summary>The pooler's activation ("tanh").</summary>
    public string PoolerAct { get; set; } = "tanh";

    /// <summary>Class names of a classifier head, by index as a string ("0": "tench").</summary>
    [System.Text.Json.Serialization.JsonPropertyName("id2label")]
    public IReadOnlyDictionary<string, string>? Id2Label { get; set; }

    /// <summary>"vit".</summary>
    public string ModelType { get; set; } = "vit";

    /// <inheritdoc/>
    public IEnumerable<(string Key, string Problem)> Problems()
    {
        foreach (var (key, v) in new[] { ("hidden_size", HiddenSize), ("num_hidden_layers", NumHiddenLayers), ("num_attention_heads", NumAttentionHeads),
                                         ("intermediate_size", IntermediateSize), ("image_size", ImageSize), ("patch_size", PatchSize), ("num_channels", NumChannels) })
            if (v <= 0) yield return (key, $"is {v}, expected a positive integer");
        if (NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads != 0)
            yield return ("hidden_size", $"is {HiddenSize}, not a multiple of num_attention_heads {NumAttentionHeads}");
        if (PatchSize > 0 && ImageSize % PatchSize != 0)
            yield return ("image_size", $"is {ImageSize}, not a multiple of patch_size {PatchSize}");
    }
}
