namespace Tessera.Models.Nn;

/// <summary>Which normalisation a block uses.</summary>
public enum NormKind
{
    /// <summary><see cref="Nn.LayerNorm"/> (ViT, CLIP, SVTR).</summary>
    LayerNorm,
    /// <summary><see cref="Nn.RmsNorm"/> (LLaMA).</summary>
    RmsNorm,
}

/// <summary>Which feed-forward network a block uses.</summary>
public enum FeedForwardKind
{
    /// <summary><see cref="Nn.Mlp"/>: fc1 -> activation -> fc2.</summary>
    Mlp,
    /// <summary><see cref="Nn.GatedMlp"/>: down(act(gate(x)) * up(x)).</summary>
    Gated,
}

/// <summary>The shape of a pre-LN <see cref="TransformerBlock"/>.</summary>
/// <param name="Attention">The attention layer's shape and names.</param>
/// <param name="MlpHidden">The feed-forward network's hidden width.</param>
public sealed record TransformerBlockConfig(AttentionConfig Attention, int MlpHidden)
{
    /// <summary>The normalisation before attention and before the MLP.</summary>
    public NormKind Norm { get; init; } = NormKind.LayerNorm;

    /// <summary>The normalisation's epsilon (CLIP 1e-5, ViT 1e-12, timm 1e-6, LLaMA 1e-5 or 1e-6).</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>For RmsNorm: scale by 1 + weight (Gemma).</summary>
    public bool NormAddOne { get; init; }

    /// <summary>The feed-forward network.</summary>
    public FeedForwardKind FeedForward { get; init; } = FeedForwardKind.Mlp;

    /// <summary>The feed-forward activation.</summary>
    public Activation Activation { get; init; } = Activation.Gelu;

    /// <summary>Whether the feed-forward projections have biases.</summary>
    public bool MlpBias { get; init; } = true;

    /// <summary>The sub-modules' names under the block's prefix.</summary>
    public BlockNames Names { get; init; } = BlockNames.Clip;
}

/// <summary>Names of a block's sub-modules, relative to the block's prefix.</summary>
/// <param name="Norm1">The norm before attention.</param>
/// <param name="Attention">The attention layer.</param>
/// <param name="Norm2">The norm before the MLP.</param>
/// <param name="Mlp">The feed-forward network.</param>
/// <param name="Fc1">Mlp: the first projection.</param>
/// <param name="Fc2">Mlp: the second projection.</param>
/// <param name="Gate">GatedMlp: the gate projection.</param>
/// <param name="Up">GatedMlp: the up projection.</param>
/// <param name="Down">GatedMlp: the down projection.</param>
public sealed record BlockNames(string Norm1, string Attention, string Norm2, string Mlp,
    string Fc1 = "fc1", string Fc2 = "fc2", string Gate = "gate_proj", string Up = "up_proj", string Down = "down_proj")
{
    /// <summary>CLIP and SigLIP encoder layers: layer_norm1, self_attn, layer_norm2, mlp.fc1/fc2.</summary>
    public static BlockNames Clip { get; } = new("layer_norm1", "self_attn", "layer_norm2", "mlp");

    /// <summary>LLaMA decoder layers: input_layernorm, self_attn, post_attention_layernorm, mlp.gate_proj/up_proj/down_proj.</summary>
    public static BlockNames Llama { get; } = new("input_layernorm", "self_attn", "post_attention_layernorm", "mlp");

    /// <summary>GGUF (llama.cpp) blocks "blk.{i}": attn_norm, ffn_norm, ffn_gate/ffn_up/ffn_down, the attention directly
    /// under the block (use <see cref="AttentionNames.Gguf"/>).</summary>
    public static BlockNames Gguf { get; } = new("attn_norm", "", "ffn_norm", "", Gate: "ffn_gate", Up: "ffn_up", Down: "ffn_down");

    /// <summary>timm ViT blocks (and SVTR): norm1, attn, norm2, mlp.fc1/fc2.</summary>
    public static BlockNames Timm { get; } = new("norm1", "attn", "norm2", "mlp");
}
