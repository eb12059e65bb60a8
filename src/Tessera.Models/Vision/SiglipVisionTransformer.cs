using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>SigLIP's image tower (transformers' SiglipVisionTransformer, names under <c>vision_model</c>): patch
/// embedding with bias and learned positions (no class token), the encoder, <c>post_layernorm</c>, and the
/// attention-pooling head.</summary>
public sealed class SiglipVisionTransformer
{
    /// <summary>The tower's config.</summary>
    public SiglipVisionConfig Config { get; }

    /// <summary>Patches and positions (interpolated for other resolutions).</summary>
    public PatchEmbedding Embeddings { get; }

    /// <summary>The encoder blocks.</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The LayerNorm after the encoder.</summary>
    public LayerNorm PostNorm { get; }

    /// <summary>The pooling head, or null when <c>vision_use_head</c> is false.</summary>
    public SiglipPoolingHead? Head { get; }

    private SiglipVisionTransformer(SiglipVisionConfig config, PatchEmbedding embeddings, TransformerEncoder encoder, LayerNorm postNorm, SiglipPoolingHead? head) =>
        (Config, Embeddings, Encoder, PostNorm, Head) = (config, embeddings, encoder, postNorm, head);

    /// <summary>Loads the tower under <paramref name="wb"/>'s prefix (<c>wb.Pp("vision_model")</c>).</summary>
    public static SiglipVisionTransformer Load(WeightBuilder wb, SiglipVisionConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.HiddenSize, grid = config.ImageSize / config.PatchSize;
        float eps = (float)config.LayerNormEps;
        var act = HiddenActivation.Parse(config.HiddenAct, "vision_config.hidden_act");
        var block = new TransformerBlockConfig(new AttentionConfig(d, config.NumAttentionHeads), config.IntermediateSize) { NormEps = eps, Activation = act };
        string summary = $"vision_config: hidden_size {d}, intermediate_size {config.IntermediateSize}, patch_size {config.PatchSize}, image_size {config.ImageSize}, num_channels {config.NumChannels}";
        return ConfigMismatch.Check("siglip vision", summary, () =>
        {
            var embeddings = PatchEmbedding.Load(wb.Pp("embeddings"),
                new PatchEmbeddingConfig(config.NumChannels, d, config.PatchSize, grid, grid) { ClassToken = false });
            var encoder = TransformerEncoder.Load(wb.Pp("encoder.layers"), block, config.NumHiddenLayers, "vision_config.num_hidden_layers");
            var post = LayerNorm.Load(wb.Pp("post_layernorm"), d, eps);
            var head = config.VisionUseHead
                ? SiglipPoolingHead.Load(wb.Pp("head"), d, config.NumAttentionHeads, config.IntermediateSize, act, eps) : null;
            return new SiglipVisionTransformer(config, embeddings, encoder, post, head);
        });
    }

    /// <summary>Pixels [B, C, H, W] to the normed last hidden state [B, N, D] and the head's pooled vector [B, D] (the
    /// mean over patches when the model has no head); every hidden state too when <paramref name="hiddenStates"/>.</summary>
    public EncoderOutput Forward(Tensor pixels, bool hiddenStates = false)
    {
        var states = hiddenStates ? new List<Tensor>() : null;
        using var e = Embeddings.Forward(pixels);
        using var h = Encoder.Forward(e, null, null, states);
        var last = PostNorm.Forward(h);
        return new EncoderOutput(last, Head is not null ? Head.Forward(last) : last.Mean(1), states);
    }

    /// <summary>hidden_states[<paramref name="layer"/>] [B, N, D] (negative from the end), running only the blocks it needs.</summary>
    public Tensor HiddenState(Tensor pixels, int layer)
    {
        using var e = Embeddings.Forward(pixels);
        return Encoder.Forward(e, null, Encoder.BlocksFor(layer));
    }
}
