namespace Tessera.Formats.Configs;

/// <summary>A BERT encoder's <c>config.json</c> (transformers' <c>BertConfig</c>). The sizes are required; the rest
/// default as transformers' constructor does.</summary>
public sealed record BertConfig : IHfConfig<BertConfig>
{
    /// <inheritdoc/>
    public static string FileName => "config.json";

    /// <summary>Vocabulary size.</summary>
    public required int VocabSize { get; set; }

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

    /// <summary>Longest sequence (512).</summary>
    public int MaxPositionEmbeddings { get; set; } = 512;

    /// <summary>Number of token types (segments) (2).</summary>
    public int TypeVocabSize { get; set; } = 2;

    /// <summary>LayerNorm epsilon (1e-12).</summary>
    public double LayerNormEps { get; set; } = 1e-12;

    /// <summary>Padding token id (0).</summary>
    public int PadTokenId { get; set; }

    /// <summary>"absolute", "relative_key" or "relative_key_query".</summary>
    public string PositionEmbeddingType { get; set; } = "absolute";

    /// <summary>"bert".</summary>
    public string ModelType { get; set; } = "bert";

    /// <inheritdoc/>
    public IEnumerable<(string Key, string Problem)> Problems()
    {
        foreach (var (key, v) in new[] { ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("num_hidden_layers", NumHiddenLayers),
                                         ("num_attention_heads", NumAttentionHeads), ("intermediate_size", IntermediateSize) })
            if (v <= 0) yield return (key, $"is {v}, expected a positive integer");
        if (NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads != 0)
            yield return ("hidden_size", $"is {HiddenSize}, not a multiple of num_attention_heads {NumAttentionHeads}");
    }
}
