using Tessera.Formats;
using Tessera.Formats.Configs;

namespace Tessera.Models.Vision;

/// <summary>SigLIP (Zhai et al. 2023; transformers' SiglipModel): image and text towers compared by cosine, scored with a
/// sigmoid of exp(<c>logit_scale</c>) times the cosine plus <c>logit_bias</c> (each pair on its own, no softmax over
/// the batch). Loads google/siglip-base-patch16-224 and its siblings as published.</summary>
public sealed class Siglip : IImageTextModel, IMultiVectorModel
{
    private readonly WeightSet _weights;

    /// <summary>The configuration.</summary>
    public SiglipConfig Config { get; }

    /// <summary>The image tower.</summary>
    public SiglipVisionTransformer Vision { get; }

    /// <summary>The text tower, or null for a vision-only checkpoint (SiglipVisionModel).</summary>
    public SiglipTextTransformer? Text { get; }

    /// <summary>The learned log scale.</summary>
    public float LogitScale { get; }

    /// <summary>The learned bias added to the scaled cosine.</summary>
    public float LogitBias { get; }

    private Siglip(SiglipConfig config, SiglipVisionTransformer vision, SiglipTextTransformer? text, float scale, float bias, WeightSet weights) =>
        (Config, Vision, Text, LogitScale, LogitBias, _weights) = (config, vision, text, scale, bias, weights);

    /// <summary>Loads a model directory (config.json and its weights); <paramref name="options"/> can quantize the
    /// linear weights at load.</summary>
    public static Siglip Load(IBackend backend, string directory, VisionLoadOptions? options = null)
    {
        var config = HfConfig.Load<SiglipConfig>(directory);
        using var wb = ModelDirectory.OpenWeights(backend, directory, options);
        return Load(wb, config);
    }

    /// <summary>Builds the model from <paramref name="wb"/> (published names) and takes what it loaded.</summary>
    public static Siglip Load(WeightBuilder wb, SiglipConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        var vision = SiglipVisionTransformer.Load(wb.Pp("vision_model"), config.VisionConfig);
        var text = wb.Contains("text_model.embeddings.token_embedding.weight") ? SiglipTextTransformer.Load(wb.Pp("text_model"), config.TextConfig) : null;
        float scale = wb.Contains("logit_scale") ? wb.GetScalar("logit_scale") : 0f;
        float bias = wb.Contains("logit_bias") ? wb.GetScalar("logit_bias") : 0f;
        return new Siglip(config, vision, text, scale, bias, wb.Commit());
    }

    /// <summary>The pooled image vectors [B, D], unnormalised (<c>get_image_features</c>).</summary>
    public Tensor ImageFeatures(Tensor pixels)
    {
        using var o = Vision.Forward(pixels);
        return o.Pooled.Share();
    }

    /// <summary>The pooled text vectors [B, P], unnormalised (<c>get_text_features</c>).</summary>
    public Tensor TextFeatures(Tensor ids)
    {
        var text = Text ?? throw new TesseraException("siglip: this checkpoint has no text tower");
        using var o = text.Forward(ids);
        return o.Pooled.Share();
    }

    /// <inheritdoc/>
    public Tensor ImageEmbeddings(Tensor pixels)
    {
        using var f = ImageFeatures(pixels);
        return EmbeddingMath.L2Normalize(f);
    }

    /// <inheritdoc/>
    public Tensor TextEmbeddings(Tensor ids)
    {
        using var f = TextFeatures(ids);
        return EmbeddingMath.L2Normalize(f);
    }

    /// <inheritdoc/>
    public Tensor ImagePatchEmbeddings(Tensor pixels)
    {
        using var o = Vision.Forward(pixels);
        return EmbeddingMath.L2NormalizeRows(o.LastHiddenState);
    }

    /// <inheritdoc/>
    public Tensor TextTokenEmbeddings(Tensor ids)
    {
        var text = Text ?? throw new TesseraException("siglip: this checkpoint has no text tower");
        using var o = text.Forward(ids);
        using var projected = text.Head.Forward(o.LastHiddenState);
        return EmbeddingMath.L2NormalizeRows(projected);
    }

    /// <inheritdoc/>
    public Tensor LogitsPerImage(Tensor imageEmbeds, Tensor textEmbeds) =>
        EmbeddingMath.ScaledSimilarity(imageEmbeds, textEmbeds, Math.Exp(LogitScale), LogitBias);

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
