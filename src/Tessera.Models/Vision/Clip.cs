using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>CLIP (Radford et al. 2021; transformers' CLIPModel): an image tower and a text tower, each projected without
/// bias into a shared space, compared by cosine times exp(<c>logit_scale</c>). Loads the published checkpoints
/// (openai/clip-vit-base-patch32, -patch16, -large-patch14(-336)); a CLIPVisionModel(WithProjection) checkpoint loads
/// too, without the text side.</summary>
public sealed class Clip : IImageTextModel, IMultiVectorModel
{
    private readonly WeightSet _weights;

    /// <summary>The configuration.</summary>
    public ClipConfig Config { get; }

    /// <summary>The image tower.</summary>
    public ClipVisionTransformer Vision { get; }

    /// <summary>The text tower, or null for a vision-only checkpoint.</summary>
    public ClipTextTransformer? Text { get; }

    /// <summary>Image pooled output to the shared space [P, Dv], or null for a CLIPVisionModel checkpoint.</summary>
    public Linear? VisualProjection { get; }

    /// <summary>Text pooled output to the shared space [P, Dt], or null.</summary>
    public Linear? TextProjection { get; }

    /// <summary>The learned log temperature (<c>logit_scale</c>); logits are exp(this) times the cosine.</summary>
    public float LogitScale { get; }

    private Clip(ClipConfig config, ClipVisionTransformer vision, ClipTextTransformer? text, Linear? visual, Linear? textProjection,
        float logitScale, WeightSet weights) =>
        (Config, Vision, Text, VisualProjection, TextProjection, LogitScale, _weights) = (config, vision, text, visual, textProjection, logitScale, weights);

    /// <summary>Loads a model directory (config.json and its weights); <paramref name="options"/> can quantize the
    /// linear weights at load.</summary>
    public static Clip Load(IBackend backend, string directory, VisionLoadOptions? options = null)
    {
        var config = HfConfig.Load<ClipConfig>(directory);
        using var wb = ModelDirectory.OpenWeights(backend, directory, options);
        return Load(wb, config);
    }

    /// <summary>Builds the model from <paramref name="wb"/> (published names) and takes what it loaded.</summary>
    public static Clip Load(WeightBuilder wb, ClipConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        var vision = ClipVisionTransformer.Load(wb.Pp("vision_model"), config.VisionConfig);
        bool hasText = wb.Contains("text_model.embeddings.token_embedding.weight");
        var text = hasText ? ClipTextTransformer.Load(wb.Pp("text_model"), config.TextConfig) : null;
        int p = config.ProjectionDim;
        string summary = $"projection_dim {p}, vision hidden_size {config.VisionConfig.HiddenSize}, text hidden_size {config.TextConfig.HiddenSize}";
        var (visual, textProjection) = ConfigMismatch.Check("clip", summary, () => (
            wb.Contains("visual_projection.weight") ? Linear.Load(wb.Pp("visual_projection"), config.VisionConfig.HiddenSize, p, bias: false) : null,
            hasText ? Linear.Load(wb.Pp("text_projection"), config.TextConfig.HiddenSize, p, bias: false) : null));
        float scale = wb.Contains("logit_scale") ? wb.GetScalar("logit_scale") : (float)config.LogitScaleInitValue;
        return new Clip(config, vision, text, visual, textProjection, scale, wb.Commit());
    }

    /// <summary>Projected, unnormalised image features [B, P] (transformers' <c>get_image_features</c>).</summary>
    public Tensor ImageFeatures(Tensor pixels)
    {
        var projection = VisualProjection ?? throw new TesseraException("clip: this checkpoint has no visual_projection (a CLIPVisionModel): use Vision for hidden states");
        using var o = Vision.Forward(pixels);
        return projection.Forward(o.Pooled);
    }

    /// <summary>Projected, unnormalised text features [B, P] (<c>get_text_features</c>).</summary>
    public Tensor TextFeatures(Tensor ids)
    {
        if (Text is null || TextProjection is null) throw new TesseraException("clip: this checkpoint has no text tower");
        using var o = Text.Forward(ids);
        return TextProjection.Forward(o.Pooled);
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
        var projection = VisualProjection ?? throw new TesseraException("clip: this checkpoint has no visual_projection (a CLIPVisionModel): use Vision for hidden states");
        using var o = Vision.Forward(pixels);
        using var patches = o.LastHiddenState.Narrow(1, 1, o.LastHiddenState.Dim(1) - 1);
        using var normed = Vision.PostNorm.Forward(patches);
        using var projected = projection.Forward(normed);
        return EmbeddingMath.L2NormalizeRows(projected);
    }

    /// <inheritdoc/>
    public Tensor TextTokenEmbeddings(Tensor ids)
    {
        if (Text is null || TextProjection is null) throw new TesseraException("clip: this checkpoint has no text tower");
        using var o = Text.Forward(ids);
        using var projected = TextProjection.Forward(o.LastHiddenState);
        return EmbeddingMath.L2NormalizeRows(projected);
    }

    /// <inheritdoc/>
    public Tensor LogitsPerImage(Tensor imageEmbeds, Tensor textEmbeds) =>
        EmbeddingMath.ScaledSimilarity(imageEmbeds, textEmbeds, Math.Exp(LogitScale));

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
