namespace Tessera.Models.Nn;

/// <summary>The shape of a <see cref="MultiHeadAttention"/> layer.</summary>
/// <param name="Dim">Model width: the input's features and the output projection's outputs.</param>
/// <param name="Heads">Query heads.</param>
public sealed record AttentionConfig(int Dim, int Heads)
{
    /// <summary>Key/value heads; fewer than <see cref="Heads"/> (and dividing them) is grouped-query attention. Null:
    /// as many as the query heads.</summary>
    public int? KvHeads { get; init; }

    /// <summary>Features per head; null: Dim / Heads.</summary>
    public int? HeadDim { get; init; }

    /// <summary>Features of the context that keys and values are projected from in cross-attention; null: Dim.</summary>
    public int? ContextDim { get; init; }

    /// <summary>Whether the q, k, v (or packed) projections have a bias (CLIP, ViT: yes; LLaMA: no).</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>Whether the output projection has a bias.</summary>
    public bool OutBias { get; init; } = true;

    /// <summary>Each query sees only keys at or before its position (decoders).</summary>
    public bool Causal { get; init; }

    /// <summary>Multiplies q.k before the softmax; null: 1/sqrt(head dim).</summary>
    public float? Scale { get; init; }

    /// <summary>Sliding-window attention (Mistral): each query sees only the last this-many positions, itself included;
    /// null: every earlier position.</summary>
    public int? SlidingWindow { get; init; }

    /// <summary>The weights' names under the layer's prefix.</summary>
    public AttentionNames Names { get; init; } = AttentionNames.Clip;

    /// <summary>The key/value heads in force.</summary>
    public int KvHeadCount => KvHeads ?? Heads;

    /// <summary>The head dim in force.</summary>
    public int HeadDimension => HeadDim ?? (Heads > 0 && Dim % Heads == 0 ? Dim / Heads
        : throw new TesseraException($"attention: dim {Dim} does not divide into {Heads} heads; set HeadDim"));

    /// <summary>The context width in force.</summary>
    public int ContextDimension => ContextDim ?? Dim;

    /// <summary>Throws naming the numbers when the shape is impossible.</summary>
    public void Validate()
    {
        if (Dim <= 0 || Heads <= 0 || KvHeadCount <= 0 || HeadDimension <= 0 || ContextDimension <= 0)
            throw new TesseraException($"attention: sizes must be positive ({this})");
        if (SlidingWindow is <= 0) throw new TesseraException($"attention: the sliding window must be positive, got {SlidingWindow}");
        if (Heads % KvHeadCount != 0)
            throw new TesseraException($"attention: {KvHeadCount} kv heads must divide {Heads} query heads");
    }
}

/// <summary>Names of an attention layer's projections, relative to its prefix. Separate projections are
/// <c>{Q}.weight</c> and so on; a packed projection (nn.MultiheadAttention's <c>in_proj_weight</c> [3D, D], timm's
/// <c>qkv.weight</c>) holds q, k and v rows in that order and is used when <see cref="PackedWeight"/> is set.</summary>
/// <param name="Q">Query projection.</param>
/// <param name="K">Key projection.</param>
/// <param name="V">Value projection.</param>
/// <param name="Out">Output projection.</param>
/// <param name="PackedWeight">Full leaf name of a packed q/k/v weight, or null for separate projections.</param>
/// <param name="PackedBias">Full leaf name of the packed bias.</param>
public sealed record AttentionNames(string Q = "q_proj", string K = "k_proj", string V = "v_proj", string Out = "out_proj",
    string? PackedWeight = null, string? PackedBias = null)
{
    /// <summary>CLIP, SigLIP, BART: q_proj, k_proj, v_proj, out_proj.</summary>
    public static AttentionNames Clip { get; } = new();

    /// <summary>LLaMA, Mistral, Qwen: q_proj, k_proj, v_proj, o_proj.</summary>
    public static AttentionNames Llama { get; } = new(Out: "o_proj");

    /// <summary>PyTorch's nn.MultiheadAttention: in_proj_weight [3D, D], in_proj_bias, out_proj.</summary>
    public static AttentionNames TorchPacked { get; } = new(PackedWeight: "in_proj_weight", PackedBias: "in_proj_bias");

    /// <summary>GGUF (llama.cpp) names: attn_q, attn_k, attn_v, attn_output (directly under the block's prefix).</summary>
    public static AttentionNames Gguf { get; } = new("attn_q", "attn_k", "attn_v", "attn_output");

    /// <summary>timm's ViT blocks and SVTR: qkv.weight, qkv.bias, proj.</summary>
    public static AttentionNames Timm { get; } = new(Out: "proj", PackedWeight: "qkv.weight", PackedBias: "qkv.bias");
}

/// <summary>What one attention call sees besides its input.</summary>
/// <param name="Mask">Additive mask broadcastable to [B, Heads, Sq, Skv] (0 to keep, -inf or a large negative to hide).</param>
/// <param name="Positions">Position ids for RoPE: i32 or i64 [S] (shared by the batch) or [B, S]; null: the cache's
/// length onwards (0 without a cache).</param>
/// <param name="Cache">Self-attention keys and values are appended here and attention runs over everything stored.</param>
/// <param name="Layer">This layer's index in <paramref name="Cache"/>.</param>
public sealed record AttentionInputs(Tensor? Mask = null, Tensor? Positions = null, IKvCache? Cache = null, int Layer = 0)
{
    /// <summary>No mask, default positions, no cache.</summary>
    public static AttentionInputs None { get; } = new();
}
