namespace Tessera.Formats.Configs;

/// <summary>The vision tower of a CLIP config (<c>vision_config</c>; transformers' <c>CLIPVisionConfig</c>). Every key
/// has transformers' default: files store only the keys that differ from it.</summary>
public sealed record ClipVisionConfig
{
    /// <summary>Width of the residual stream (768).</summary>
    public int HiddenSize { get; set; } = 768;

    /// <summary>Width of the MLP's hidden layer (3072).</summary>
    public int IntermediateSize { get; set; } = 3072;

    /// <summary>Width of the shared embedding space (512).</summary>
    public int ProjectionDim { get; set; } = 512;

    /// <summary>Number of encoder layers (12).</summary>
    public int NumHiddenLayers { get; set; } = 12;

    /// <summary>Number of attention heads (12).</summary>
    public int NumAttentionHeads { get; set; } = 12;

    /// <summary>Input channels (3).</summary>
    public int NumChannels { get; set; } = 3;

    /// <summary>Input resolution (224).</summary>
    public int ImageSize { get; set; } = 224;

    /// <summary>Patch side (32).</summary>
    public int PatchSize { get; set; } = 32;

    /// <summary>The MLP's activation ("quick_gelu").</summary>
    public string HiddenAct { get; set; } = "quick_gelu";

    /// <summary>LayerNorm epsilon (1e-5).</summary>
    public double LayerNormEps { get; set; } = 1e-5;
}
