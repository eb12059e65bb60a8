using System.Text.Json.Serialization;

namespace Tessera.Formats.Configs;

/// <summary>A LLaMA-family decoder's <c>config.json</c> (transformers' <c>LlamaConfig</c>; Mistral, Qwen2 and their kin
/// share these keys). The keys that fix the weight shapes are required: a file without them is not a decoder's config.
/// The others default as transformers' constructor does.</summary>
public sealed record LlamaConfig : IHfConfig<LlamaConfig>
{
    /// <inheritdoc/>
    public static string FileName => "config.json";

    /// <summary>Width of the residual stream.</summary>
    public required int HiddenSize { get; set; }

    /// <summary>Width of the MLP's hidden layer.</summary>
    public required int IntermediateSize { get; set; }

    /// <summary>Number of decoder layers.</summary>
    public required int NumHiddenLayers { get; set; }

    /// <summary>Number of query heads.</summary>
    public required int NumAttentionHeads { get; set; }

    /// <summary>Vocabulary size.</summary>
    public required int VocabSize { get; set; }

    /// <summary>Number of key/value heads (grouped-query attention); null means one per query head.</summary>
    public int? NumKeyValueHeads { get; set; }

    /// <summary>Per-head width; null means <see cref="HiddenSize"/> / <see cref="NumAttentionHeads"/>.</summary>
    public int? HeadDim { get; set; }

    /// <summary>RMSNorm epsilon (1e-6).</summary>
    public double RmsNormEps { get; set; } = 1e-6;

    /// <summary>RoPE base (10000).</summary>
    public double RopeTheta { get; set; } = 10000.0;

    /// <summary>RoPE scaling, or null for none.</summary>
    public RopeScaling? RopeScaling { get; set; }

    /// <summary>Longest context the position scheme was trained for (2048).</summary>
    public int MaxPositionEmbeddings { get; set; } = 2048;

    /// <summary>Whether the output projection shares the token embedding (false).</summary>
    public bool TieWordEmbeddings { get; set; }

    /// <summary>The MLP's activation ("silu").</summary>
    public string HiddenAct { get; set; } = "silu";

    /// <summary>Beginning-of-sequence token id(s) (1).</summary>
    [JsonConverter(typeof(TokenIdsConverter))]
    public IReadOnlyList<int>? BosTokenId { get; set; } = [1];

    /// <summary>End-of-sequence token id(s) (2; Llama 3 lists several).</summary>
    [JsonConverter(typeof(TokenIdsConverter))]
    public IReadOnlyList<int>? EosTokenId { get; set; } = [2];

    /// <summary>Padding token id(s), if any.</summary>
    [JsonConverter(typeof(TokenIdsConverter))]
    public IReadOnlyList<int>? PadTokenId { get; set; }

    /// <summary>Sliding-window attention width (Mistral), or null for full attention.</summary>
    public int? SlidingWindow { get; set; }

    /// <summary>Whether q/k/v/o projections have biases (false; Qwen2 has q/k/v biases without this key).</summary>
    public bool AttentionBias { get; set; }

    /// <summary>Whether the MLP projections have biases (false).</summary>
    public bool MlpBias { get; set; }

    /// <summary>"llama", "mistral", "qwen2", ...</summary>
    public string ModelType { get; set; } = "llama";

    /// <summary>The dtype the weights were saved in ("bfloat16"), as older files write it.</summary>
    public string? TorchDtype { get; set; }

    /// <summary>The dtype the weights were saved in, as newer files write it (<c>dtype</c>).</summary>
    public string? Dtype { get; set; }

    /// <summary>Key/value heads, resolved.</summary>
    [JsonIgnore]
    public int KvHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Per-head width, resolved.</summary>
    [JsonIgnore]
    public int HeadDimension => HeadDim ?? HiddenSize / Math.Max(NumAttentionHeads, 1);

    /// <inheritdoc/>
    public IEnumerable<(string Key, string Problem)> Problems()
    {
        foreach (var (key, v) in new[] { ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize), ("num_hidden_layers", NumHiddenLayers),
                                         ("num_attention_heads", NumAttentionHeads), ("vocab_size", VocabSize), ("max_position_embeddings", MaxPositionEmbeddings) })
            if (v <= 0) yield return (key, $"is {v}, expected a positive integer");
        if (NumAttentionHeads <= 0) yield break;
        if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
            yield return ("hidden_size", $"is {HiddenSize}, not a multiple of num_attention_heads {NumAttentionHeads} (and head_dim is not given)");
        if (HeadDim is <= 0) yield return ("head_dim", $"is {HeadDim}, expected a positive integer");
        if (NumKeyValueHeads is { } kv && (kv <= 0 || NumAttentionHeads % kv != 0))
            yield return ("num_key_value_heads", $"is {kv}, expected a positive divisor of num_attention_heads {NumAttentionHeads}");
        if (RmsNormEps <= 0) yield return ("rms_norm_eps", $"is {RmsNormEps}, expected a positive number");
    }
}
