using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>CLIP's image tower (transformers' CLIPVisionTransformer, names under <c>vision_model</c>): patch embedding
/// without bias, a class token and learned positions, <c>pre_layrnorm</c> (sic), the encoder, and
/// <c>post_layernorm</c> on the class token. It is also the vision tower LLaVA reads hidden states from.</summary>
public sealed class ClipVisionTransformer
{
    /// <summary>The tower's config.</summary>
    public ClipVisionConfig Config { get; }

    /// <summary>Patches, class token and positions (interpolated for other resolutions).</summary>
    public PatchEmbedding Embeddings { get; }

    /// <summary>The LayerNorm before the encoder.</summary>
    public LayerNorm PreNorm { get; }

    /// <summary>The encoder blocks.</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The LayerNorm on the pooled class token.</summary>
    public LayerNorm PostNorm { get; }

    private ClipVisionTransformer(ClipVisionConfig config, PatchEmbedding embeddings, LayerNorm preNorm, TransformerEncoder encoder, LayerNorm postNorm) =>
        (Config, Embeddings, PreNorm, Encoder, PostNorm) = (config, embeddings, preNorm, encoder, postNorm);

    /// <summary>Loads the tower under <paramref name="wb"/>'s prefix (<c>wb.Pp("vision_model")</c>).</summary>
    public static ClipVisionTransformer Load(WeightBuilder wb, ClipVisionConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.HiddenSize;
        float eps = (float)config.LayerNormEps;
        var block = new TransformerBlockConfig(new AttentionConfig(d, config.NumAttentionHeads), config.IntermediateSize)
        {
            NormEps = eps, Activation = HiddenActivation.Parse(config.HiddenAct, "vision_config.hidden_act"),
        };
        string summary = $"vision_config: hidden_size {d}, intermediate_size {config.IntermediateSize}, patch_size {config.PatchSize}, image_size {config.ImageSize}, num_channels {config.NumChannels}";
        return ConfigMismatch.Check("clip vision", summary, () =>
        {
            var embeddings = PatchEmbedding.Load(wb.Pp("embeddings"),
                PatchEmbeddingConfig.Clip(config.NumChannels, d, config.PatchSize, config.ImageSize / config.PatchSize));
            var pre = LayerNorm.Load(wb.Pp("pre_layrnorm"), d, eps);
            var encoder = TransformerEncoder.Load(wb.Pp("encoder.layers"), block, config.NumHiddenLayers, "vision_config.num_hidden_layers");
            var post = LayerNorm.Load(wb.Pp("post_layernorm"), d, eps);
            return new ClipVisionTransformer(config, embeddings, pre, encoder, post);
        });
    }

    /// <summary>Pixels [B, C, H, W] (H, W multiples of the patch; positions interpolated when not the trained size) to
    /// the last hidden state [B, 1 + N, D] (no post norm, as transformers returns it) and the pooled class token
    /// [B, D] (post norm); every hidden state too when <paramref name="hiddenStates"/>.</summary>
    public EncoderOutput Forward(Tensor pixels, bool hiddenStates = false)
    {
        var states = hiddenStates ? new List<Tensor>() : null;
        var last = Run(pixels, null, states);
        using var cls = last.Select(1, 0);
        return new EncoderOutput(last, PostNorm.Forward(cls), states);
    }

    /// <summary>hidden_states[<paramref name="layer"/>] [B, 1 + N, D] (negative from the end: -2 is LLaVA's
    /// penultimate layer), running only the blocks it needs; without the class token's row unless
    /// <paramref name="classToken"/>.</summary>
    public Tensor HiddenState(Tensor pixels, int layer, bool classToken = true)
    {
        using var h = Run(pixels, Encoder.BlocksFor(layer), null);
        return classToken ? h.Share() : h.Narrow(1, 1, h.Dim(1) - 1);
    }

    private Tensor Run(Tensor pixels, int? blocks, List<Tensor>? states)
    {
        using var e = Embeddings.Forward(pixels);
        using var x = PreNorm.Forward(e);
        return Encoder.Forward(x, null, blocks, states);
    }
}
