using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>The Vision Transformer (Dosovitskiy et al. 2021; transformers' ViTModel and ViTForImageClassification,
/// which is also how DeiT's non-distilled checkpoints are published): patch embedding with a class token and learned
/// positions, pre-LN blocks, a final LayerNorm, and the classifier on the class token with <c>id2label</c>'s names.
/// Loads google/vit-base-patch16-224 (names under <c>vit.</c>) and bare ViTModel checkpoints (no prefix, no head).
/// DeiT (Touvron et al. 2021; model_type "deit", names under <c>deit.</c>) loads too: a distillation token follows the
/// class token (both with their own position rows), and DeiTForImageClassificationWithTeacher's logits are the mean of
/// <c>cls_classifier</c> on the class token and <c>distillation_classifier</c> on the distillation token.</summary>
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

    /// <summary>The classifier [labels, D] on the class token (DeiT with teacher: <c>cls_classifier</c>), or null for a
    /// ViTModel checkpoint.</summary>
    public Linear? Classifier { get; }

    /// <summary>DeiT with teacher: <c>distillation_classifier</c> [labels, D] on the distillation token, else null.</summary>
    public Linear? DistillationClassifier { get; }

    /// <summary>DeiT: the class and distillation tokens with their position rows added [1, 2, D], put in front of the
    /// patches (whose positions <see cref="Embeddings"/> adds); null for ViT, whose class token is in Embeddings.</summary>
    public Tensor? DeitTokens { get; }

    /// <summary>Tokens before the patches: 1 (class) for ViT, 2 (class, distillation) for DeiT.</summary>
    public int PrefixTokens => DeitTokens is null ? 1 : 2;

    /// <summary>The class names by index (id2label), or "LABEL_i" where the config names none.</summary>
    public IReadOnlyList<string> Labels { get; }

    private Vit(VitConfig config, PatchEmbedding embeddings, Tensor? deitTokens, TransformerEncoder encoder, LayerNorm norm, Linear? classifier,
        Linear? distillationClassifier, string[] labels, WeightSet weights) =>
        (Config, Embeddings, DeitTokens, Encoder, Norm, Classifier, DistillationClassifier, Labels, _weights) =
            (config, embeddings, deitTokens, encoder, norm, classifier, distillationClassifier, labels, weights);

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
    /// <c>classifier</c> (ViTForImageClassification) or at the root (ViTModel); under <c>deit.</c> with
    /// <c>cls_classifier</c> and <c>distillation_classifier</c> (DeiTForImageClassificationWithTeacher), a
    /// <c>classifier</c> (DeiTForImageClassification) or none (DeiTModel).</summary>
    public static Vit Load(WeightBuilder wb, VitConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        bool deit = wb.Contains("deit.embeddings.distillation_token") || wb.Contains("embeddings.distillation_token");
        var root = wb.Contains("vit.embeddings.cls_token") ? wb.Pp("vit") : wb.Contains("deit.embeddings.cls_token") ? wb.Pp("deit") : wb;
        int d = config.HiddenSize, grid = config.ImageSize / config.PatchSize;
        float eps = (float)config.LayerNormEps;
        var block = new TransformerBlockConfig(new AttentionConfig(d, config.NumAttentionHeads) { QkvBias = config.QkvBias, Names = AttentionNames }, config.IntermediateSize)
        {
            NormEps = eps, Activation = HiddenActivation.Parse(config.HiddenAct), Names = BlockNames,
        };
        string summary = $"hidden_size {d}, intermediate_size {config.IntermediateSize}, patch_size {config.PatchSize}, image_size {config.ImageSize}, num_channels {config.NumChannels}, id2label {config.Id2Label?.Count ?? 0} labels";
        return ConfigMismatch.Check("vit", summary, () =>
        {
            var (embeddings, deitTokens) = deit ? DeitEmbeddings(root.Pp("embeddings"), config, grid)
                : (PatchEmbedding.Load(root.Pp("embeddings"), PatchEmbeddingConfig.Vit(config.NumChannels, d, config.PatchSize, grid)), null);
            var encoder = TransformerEncoder.Load(root.Pp("encoder.layer"), block, config.NumHiddenLayers);
            var norm = LayerNorm.Load(root.Pp("layernorm"), d, eps);
            Linear? classifier = null, distillation = null;
            string[] labels = [];
            string head = wb.Contains("cls_classifier.weight") ? "cls_classifier" : "classifier";
            if (wb.Contains(head + ".weight"))
            {
                int n = config.Id2Label?.Count ?? (int)wb.Info(head + ".weight").Dims[0];
                classifier = Linear.Load(wb.Pp(head), d, n);
                if (head == "cls_classifier") distillation = Linear.Load(wb.Pp("distillation_classifier"), d, n);
                labels = LabelNames(config.Id2Label, n);
            }
            return new Vit(config, embeddings, deitTokens, encoder, norm, classifier, distillation, labels, wb.Commit());
        });
    }

    /// <summary>Pixels [B, C, H, W] to the normed last hidden state [B, 1 + N, D] ([B, 2 + N, D] for DeiT) and the
    /// normed class token [B, D]; every hidden state too when <paramref name="hiddenStates"/>.</summary>
    public EncoderOutput Forward(Tensor pixels, bool hiddenStates = false)
    {
        var states = hiddenStates ? new List<Tensor>() : null;
        using var e = Embed(pixels);
        using var h = Encoder.Forward(e, null, null, states);
        var last = Norm.Forward(h);
        using var cls = last.Select(1, 0);
        return new EncoderOutput(last, cls.Contiguous(), states);
    }

    /// <summary>Class logits [B, labels] of pixels [B, C, H, W] (DeiT with teacher: the mean of the class token's and
    /// the distillation token's heads).</summary>
    public Tensor Logits(Tensor pixels)
    {
        var classifier = Classifier ?? throw new TesseraException("vit: this checkpoint has no classifier (a ViTModel): use Forward for features");
        using var o = Forward(pixels);
        if (DistillationClassifier is null) return classifier.Forward(o.Pooled);
        using var cls = classifier.Forward(o.Pooled);
        using var distToken = o.LastHiddenState.Select(1, 1);
        using var dist = DistillationClassifier.Forward(distToken);
        using var sum = cls + dist;
        return sum.Affine(0.5, 0);
    }

    /// <summary>hidden_states[<paramref name="layer"/>] [B, 1 + N, D] (negative from the end), running only the blocks
    /// it needs; without the class token's row (DeiT: and the distillation token's) unless <paramref name="classToken"/>.</summary>
    public Tensor HiddenState(Tensor pixels, int layer, bool classToken = true)
    {
        using var e = Embed(pixels);
        using var h = Encoder.Forward(e, null, Encoder.BlocksFor(layer));
        return classToken ? h.Share() : h.Narrow(1, PrefixTokens, h.Dim(1) - PrefixTokens);
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();

    private Tensor Embed(Tensor pixels)
    {
        if (DeitTokens is null) return Embeddings.Forward(pixels);
        using var patches = Embeddings.Forward(pixels);
        using var front = DeitTokens.BroadcastTo(new Shape(patches.Dim(0), 2, Config.HiddenSize));
        return Tensor.Concat(1, front, patches);
    }

    // DeiT's embeddings: the patch projection with the patch rows of the position table (interpolated by PatchEmbedding
    // for other grids, as transformers' interpolate_pos_encoding does with the two token rows kept), and the class and
    // distillation tokens with their position rows added once here.
    private static (PatchEmbedding, Tensor) DeitEmbeddings(WeightBuilder wb, VitConfig config, int grid)
    {
        int d = config.HiddenSize, n = grid * grid;
        var proj = wb.Pp("patch_embeddings.projection");
        var w = proj.GetAs("weight", DType.F32, d, config.NumChannels, config.PatchSize, config.PatchSize);
        var b = proj.GetAs("bias", DType.F32, d);
        var table = wb.GetAs("position_embeddings", DType.F32, 1, n + 2, d);
        using var rows = table.Reshape(n + 2, d);
        var patchPositions = wb.Own(rows.Narrow(0, 2, n));
        var embeddings = new PatchEmbedding(new PatchEmbeddingConfig(config.NumChannels, d, config.PatchSize, grid, grid)
            { ClassToken = false, ProjectionName = "patch_embeddings.projection", PositionName = "position_embeddings" }, w, b, null, patchPositions);
        var cls = wb.GetAs("cls_token", DType.F32, 1, 1, d);                            // owned by the set, as loaded tensors are
        var dist = wb.GetAs("distillation_token", DType.F32, 1, 1, d);
        using var tokens = Tensor.Concat(1, cls, dist);                                   // [1, 2, D]
        using var tokenRows = table.Narrow(1, 0, 2);
        using var withPositions = tokens + tokenRows;
        return (embeddings, wb.Own(withPositions.Contiguous()));
    }

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
