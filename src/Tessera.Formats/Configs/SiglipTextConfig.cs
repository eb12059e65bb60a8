namespace Tessera.Formats.Configs;

/// <summary>The text tower of a SigLIP config (<c>text_config</c>; transformers' <c>SiglipTextConfig</c>), with
/// transformers' defaults for absent keys.</summary>
public sealed record SiglipTextConfig
{
    /// <summary>Vocabulary size (32000).</summary>
    public int VocabSize { get; set; } = 32000;

    /// <summary>Width of the residual stream (768).</summary>
    public int HiddenSize { get; set; } = 768;

    /// <summary>Width of the MLP's hidden layer (3072).</summary>
    public int IntermediateSize { get; set; } = 3072;

    /// <summary>Number of encoder layers (12).</summary>
    public int NumHiddenLayers { get; set; } = 12;

    /// <summary>Number of attention heads (12).</summary>
    public int NumAttentionHeads { get; set; } = 12;

    /// <summary>Longest token sequence (64).</summary>
    public int MaxPositionEmbeddings { get; set; } = 64;

    /// <summary>The MLP's activation ("gelu_pytorch_tanh").</summary>
    public string HiddenAct { get; set; } = "gelu_pytorch_tanh";

    /// <summary>LayerNorm epsilon (1e-6).</summary>
    public double LayerNormEps { get; set; } = 1e-6;

    /// <summary>Padding token id (1).</summary>
    public int PadTokenId { get; set; } = 1;

    /// <summary>Beginning-of-text token id (49406).</summary>
    public int BosTokenId { get; set; } = 49406;

    /// <summary>End-of-text token id (49407).</summary>
    public int EosTokenId { get; set; } = 49407;

    /// <summary>Width of the text head's output; null means <see cref="HiddenSize"/>.</summary>
    public int? ProjectionSize { get; set; }
}
