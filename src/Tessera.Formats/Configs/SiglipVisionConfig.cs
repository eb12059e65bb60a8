namespace Tessera.Formats.Configs;

/// <summary>The vision tower of a SigLIP config (<c>vision_config</c>; transformers' <c>SiglipVisionConfig</c>), with
/// transformers' defaults for absent keys.</summary>
public sealed record SiglipVisionConfig
{
    /// <summary>Width of the residual stream (768).</summary>
    public int HiddenSize { get; set; } = 768;

    /// <summary>Width of the MLP's hidden layer (3072).</summary>
    public int IntermediateSize { get; set; } = 3072;

    /// <summary>Number of encoder layers (12).</summary>
    public int NumHiddenLayers { get; set; } = 12;

    /// <summary>Number of attention heads (12).</summary>
    public int NumAttentionHeads { get; set; } = 12;

    /// <summary>Input channels (3).</summary>
    public int NumChannels { get; set; } = 3;

    /// <summary>Input resolution (224).</summary>
    public int ImageSize { get; set; } = 224;

    /// <summary>Patch side (16).</summary>
    public int PatchSize { get; set; } = 16;

    /// <summary>The MLP's activation ("gelu_pytorch_tanh").</summary>
    public string HiddenAct { get; set; } = "gelu_pytorch_tanh";

    /// <summary>LayerNorm epsilon (1e-6).</summary>
    public double LayerNormEps { get; set; } = 1e-6;

    /// <summary>Whether the tower ends in the attention-pooling head (true).</summary>
    public bool VisionUseHead { get; set; } = true;
}
