using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>The Vision Transformer (Dosovitskiy et al. 2021; transformers' ViTModel and ViTForImageClassification,
/// which is also how DeiT's non-distilled checkpoints are published): patch embedding with a class token and learned
/// positions, pre-LN blocks, a final LayerNorm, and the classifier on the class token with <c>id2label</c>'s names.
/// Loads google/vit-base-patch16-224 (names under <c>vit.</c>) and bare ViTModel checkpoints (no prefix, no head).</summary>
public sealed class Vit : IDisposable
{
    private readonly WeightSet _weights;

    /// <summary>The configuration.</summary>
    public VitConfig Config { get; }

    /// <summary>Patches, class token and positions (interpolated for other resolutions).</summary>
    public PatchEmbedding Embeddings { get; }

    /// <summary>The encoder blocks.</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The final LayerNorm.</summary>
    public LayerNorm Norm { get; }

    /// <summary>The classifier [labels, D], or null for a ViTModel checkpoint.</summary>
    public Linear? Classifier { get; }

    /// <summary>The class names by index (id2label), or "LABEL_i" where the config names none.</summary>
    public IReadOnlyList<string> Labels { get; }

    private Vit(VitConfig config, PatchEmbedding embeddings, TransformerEncoder encoder, LayerNorm norm, Linear? classifier, string[] labels, WeightSet weights) =>
        (Config, Embeddings, Encoder, Norm, Classifier, Labels, _weights) = (config, embeddings, encoder, norm, classifier, labels, weights);

    /// <summary>The layer names of a ViT block (transformers' ViTLayer).</summary>
    public static BlockNames BlockNames { get; } = new("layernorm_before", "attention", "layernorm_after", "", Fc1: "intermediate.dense", Fc2: "output.dense");

    /// <summary>The attention names of a ViT block, under its "attention" prefix.</summary>
    public static AttentionNames AttentionNames { get; } = new("attention.query", "attention.key", "attention.value", "output.dense");

    /// <summary>Loads a model directory (config.json and its weights); <paramref name="options"/> can quantize the
    /// linear weights at load.</summary>
    public static Vit Load(IBackend backend, string directory, VisionLoadOptions? options = null)
    {
        var config = HfConfig.Load<VitConfig>(directory);
        using var wb = ModelDirectory.OpenWeights(backend, directory, options);
        return Load(wb, config);
    }

    /// <summary>Builds the model from <paramref name="wb"/> and takes what it loaded: names under <c>vit.</c> with a
    /// <c>classifier</c> (ViTForImageClassification) or at the root (ViTModel).</summary>
    public static Vit Load(WeightBuilder wb, VitConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        var root = wb.Contains("vit.embeddings.cls_token") ? wb.Pp("vit") : wb;
        int d = config.HiddenSize, grid = config.ImageSize / config.PatchSize;
        float eps = (float)config.LayerNormEps;
        var block = new TransformerBlockConfig(new AttentionConfig(d, config.NumAttentionHeads) { QkvBias = config.QkvBias, Names = AttentionNames }, config.IntermediateSize)
        {
            NormEps = eps, Activation = HiddenActivation.Parse(config.HiddenAct), Names = BlockNames,
        };
        string summary = $"hidden_size {d}, intermediate_size {config.IntermediateSize}, patch_size {config.PatchSize}, image_size {config.ImageSize}, num_channels {config.NumChannels}, id2label {config.Id2Label?.Count ?? 0} labels";
        return ConfigMismatch.Check("vit", summary, () =>
        {
            var embeddings = PatchEmbedding.Load(root.Pp("embeddings"), PatchEmbeddingConfig.Vit(config.NumChannels, d, config.PatchSize, grid));
            var encoder = TransformerEncoder.Load(root.Pp("encoder.layer"), block, config.NumHiddenLayers);
            var norm = LayerNorm.Load(root.Pp("layernorm"), d, eps);
            Linear? classifier = null;
            string[] labels = [];
            if (wb.Contains("classifier.weight"))
            {
                int n = config.Id2Label?.Count ?? (int)wb.Info("classifier.weight").Dims[0];
                classifier = Linear.Load(wb.Pp("classifier"), d, n);
                labels = LabelNames(config.Id2Label, n);
            }
            return new Vit(config, embeddings, encoder, norm, classifier, labels, wb.Commit());
        });
    }

    /// <summary>Pixels [B, C, H, W] to the normed last hidden state [B, 1 + N, D] and the normed class token [B, D];
    /// every hidden state too when <paramref name="hiddenStates"/>.</summary>
    public EncoderOutput Forward(Tensor pixels, bool hiddenStates = false)
    {
        var states = hiddenStates ? new List<Tensor>() : null;
        using var e = Embeddings.Forward(pixels);
        using var h = Encoder.Forward(e, null, null, states);
        var last = Norm.Forward(h);
        using var cls = last.Select(1, 0);
        return new EncoderOutput(last, cls.Contiguous(), states);
    }

    /// <summary>Class logits [B, labels] of pixels [B, C, H, W].</summary>
    public Tensor Logits(Tensor pixels)
    {
        var classifier = Classifier ?? throw new TesseraException("vit: this checkpoint has no classifier (a ViTModel): use Forward for features");
        using var o = Forward(pixels);
        return classifier.Forward(o.Pooled);
    }

    /// <summary>hidden_states[<paramref name="layer"/>] [B, 1 + N, D] (negative from the end), running only the blocks
    /// it needs; without the class token's row unless <paramref name="classToken"/>.</summary>
    public Tensor HiddenState(Tensor pixels, int layer, bool classToken = true)
    {
        using var e = Embeddings.Forward(pixels);
        using var h = Encoder.Forward(e, null, Encoder.BlocksFor(layer));
        return classToken ? h.Share() : h.Narrow(1, 1, h.Dim(1) - 1);
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();

    // id2label must name every class index 0..n-1; the classifier's rows must match their count.
    private static string[] LabelNames(IReadOnlyDictionary<string, string>? id2Label, int n)
    {
        var labels = new string[n];
        for (int i = 0; i < n; i++)
            labels[i] = id2Label is null ? $"LABEL_{i}"
                : id2Label.TryGetValue(i.ToString(System.Globalization.CultureInfo.InvariantCulture), out var name) ? name
                : throw new TesseraException($"vit: config.json id2label has {id2Label.Count} entries but no \"{i}\"");
        return labels;
    }
}
