namespace Tessera.Formats.Configs;

/// <summary>The text tower of a CLIP config (<c>text_config</c>; transformers' <c>CLIPTextConfig</c>). Every key has
/// transformers' default: files store only the keys that differ from it.</summary>
public sealed record ClipTextConfig
{
    /// <summary>Vocabulary size (49408).</summary>
    public int VocabSize { get; set; } = 49408;

    /// <summary>Width of the residual stream (512).</summary>
    public int HiddenSize { get; set; } = 512;

    /// <summary>Width of the MLP's hidden layer (2048).</summary>
    public int IntermediateSize { get; set; } = 2048;

    /// <summary>Width of the shared embedding space (512).</summary>
    public int ProjectionDim { get; set; } = 512;

    /// <summary>Number of encoder layers (12).</summary>
    public int NumHiddenLayers { get; set; } = 12;

    /// <summary>Number of attention heads (8).</summary>
    public int NumAttentionHeads { get; set; } = 8;

    /// <summary>Longest token sequence (77).</summary>
    public int MaxPositionEmbeddings { get; set; } = 77;

    /// <summary>The MLP's activation ("quick_gelu").</summary>
    public string HiddenAct { get; set; } = "quick_gelu";

    /// <summary>LayerNorm epsilon (1e-5).</summary>
    public double LayerNormEps { get; set; } = 1e-5;

    /// <summary>Padding token id (1).</summary>
    public int PadTokenId { get; set; } = 1;

    /// <summary>Beginning-of-text token id (49406).</summary>
    public int BosTokenId { get; set; } = 49406;

    /// <summary>End-of-text token id (49407): its position's state is the text embedding.</summary>
    public int EosTokenId { get; set; } = 49407;
}
