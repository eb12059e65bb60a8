using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>CLIP's vision tower as llama.cpp's <c>mmproj</c> GGUF stores it (tools/mtmd/clip.cpp), with LLaVA's MLP
/// projector when the file has one: <c>v.patch_embd</c>, <c>v.class_embd</c>, <c>v.position_embd</c>, <c>v.pre_ln</c>,
/// blocks <c>v.blk.{i}.{ln1, attn_q/k/v/out, ln2, ffn_up, ffn_down}</c>, <c>v.post_ln</c> (absent in LLaVA files, which
/// also drop the model's last layer), then <c>mm.0</c> -> GELU -> <c>mm.2</c>. The same network as
/// <see cref="ClipVisionTransformer"/>, built from the same layers under llama.cpp's names; the LLaVA side reads
/// <see cref="PatchFeatures"/> (the layers clip.cpp picks) and <see cref="ProjectImage"/>, or <see cref="HiddenState"/>
/// for any layer. Activations are transformers' (exact GELU where <c>clip.use_gelu</c>, and in the projector, as
/// LLaVA's <c>projector_hidden_act</c> "gelu"); ggml computes GELU with its tanh approximation.</summary>
public sealed class Mmproj : IDisposable
{
    private readonly WeightSet _weights;

    /// <summary>The file's metadata.</summary>
    public MmprojConfig Config { get; }

    /// <summary>Patches, class token and positions (interpolated for other resolutions).</summary>
    public PatchEmbedding Embeddings { get; }

    /// <summary>The LayerNorm before the encoder (<c>v.pre_ln</c>).</summary>
    public LayerNorm PreNorm { get; }

    /// <summary>The stored blocks (<c>v.blk.{i}</c>).</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The LayerNorm on the class token (<c>v.post_ln</c>), or null when the file has none (LLaVA files).</summary>
    public LayerNorm? PostNorm { get; }

    /// <summary>CLIP's <c>visual_projection</c> [P, D], kept under that name by llama.cpp's converter for vision-only
    /// files; null otherwise.</summary>
    public Linear? VisualProjection { get; }

    /// <summary>LLaVA's projector (<c>mm.0</c>, GELU, <c>mm.2</c>), or null for a vision-only file.</summary>
    public Mlp? Projector { get; }

    /// <summary>Whether the file stores the MLP's projections under llama.cpp's legacy, swapped names (fc1 as
    /// <c>ffn_down</c>, fc2 as <c>ffn_up</c>, as the old convert_image_encoder_to_gguf.py wrote every LLaVA file).</summary>
    public bool LegacyFfnNames { get; }

    private Mmproj(MmprojConfig config, PatchEmbedding embeddings, LayerNorm pre, TransformerEncoder encoder, LayerNorm? post,
        Linear? visual, Mlp? projector, bool legacy, WeightSet weights) =>
        (Config, Embeddings, PreNorm, Encoder, PostNorm, VisualProjection, Projector, LegacyFfnNames, _weights) =
        (config, embeddings, pre, encoder, post, visual, projector, legacy, weights);

    /// <summary>Loads an mmproj file. By default f16/bf16 weights are widened to f32 at load (the tower's activations are
    /// f32) and block-quantized weights stay quantized for the quantized matmul; <paramref name="options"/> overrides
    /// that (its renames are kept as given).</summary>
    public static Mmproj Load(IBackend backend, string path, WeightBuilderOptions? options = null)
    {
        using var wb = WeightBuilder.Open(backend, options ?? new WeightBuilderOptions(FloatDType: DType.F32), path);
        var gguf = wb.Sources[0] as GgufFile ?? throw new TesseraException($"{path}: an mmproj file is GGUF");
        return Load(wb, MmprojConfig.Read(gguf));
    }

    /// <summary>Builds the model from <paramref name="wb"/> (llama.cpp's names at its root) and takes what it loaded. A
    /// tensor that does not fit the metadata is an error naming the tensor, both shapes and the metadata.</summary>
    public static Mmproj Load(WeightBuilder wb, MmprojConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.HiddenSize, grid = config.ImageSize / config.PatchSize;
        string summary = $"clip.vision.embedding_length {d}, feed_forward_length {config.IntermediateSize}, block_count {config.BlockCount}, " +
            $"attention.head_count {config.HeadCount}, image_size {config.ImageSize}, patch_size {config.PatchSize}";
        try
        {
            var v = wb.Pp("v");
            var patch = PatchEmbeddingConfig.Clip(3, d, config.PatchSize, grid) with
            {
                ProjectionName = "patch_embd", ClassTokenName = "class_embd", PositionName = "position_embd.weight",
                ProjectionBias = v.Contains("patch_embd.bias"),
            };
            var embeddings = PatchEmbedding.Load(v, patch);
            var pre = LayerNorm.Load(v.Pp("pre_ln"), d, config.LayerNormEps);
            bool legacy = LegacyNames(v.Pp("blk").Pp(0), config);
            var block = new TransformerBlockConfig(
                new AttentionConfig(d, config.HeadCount) { Names = new AttentionNames("attn_q", "attn_k", "attn_v", "attn_out") },
                config.IntermediateSize)
            {
                NormEps = config.LayerNormEps, Activation = config.Activation,
                Names = new BlockNames("ln1", "", "ln2", "", Fc1: legacy ? "ffn_down" : "ffn_up", Fc2: legacy ? "ffn_up" : "ffn_down"),
            };
            var encoder = TransformerEncoder.Load(v.Pp("blk"), block, config.BlockCount, "clip.vision.block_count");
            var post = v.Contains("post_ln.weight") ? LayerNorm.Load(v.Pp("post_ln"), d, config.LayerNormEps) : null;
            var visual = wb.Contains("visual_projection.weight")
                ? Linear.Load(wb.Pp("visual_projection"), d, config.ProjectionDim ?? -1, bias: false) : null;
            var projector = config.HasMlpProjector ? LoadProjector(wb, config) : null;
            return new Mmproj(config, embeddings, pre, encoder, post, visual, projector, legacy, wb.Commit());
        }
        catch (WeightFormatException e)
        {
            throw new TesseraException($"mmproj: the tensors disagree with the metadata ({summary}): {e.Message}", e);
        }
    }

    // LLaVA's projector reads the feature layers concatenated along the width: mm.0 [H, D * layers], mm.2 [T, H].
    private static Mlp LoadProjector(WeightBuilder wb, MmprojConfig config)
    {
        int inF = config.HiddenSize * Math.Max(1, config.FeatureLayers.Distinct().Count());
        int hidden = (int)wb.Info("mm.0.weight").Dims[0], outF = (int)wb.Info("mm.2.weight").Dims[0];
        // llama.cpp's graph uses ggml_gelu (tanh); LLaVA's projector_hidden_act is the exact "gelu", computed here.
        return new Mlp(Linear.Load(wb.Pp("mm.0"), inF, hidden), Linear.Load(wb.Pp("mm.2"), hidden, outF), Activation.Gelu);
    }

    // The legacy converter wrote fc1 [F, D] as ffn_down: llama.cpp's clip.cpp swaps when ffn_down's inner width is the
    // model width (and the MLP is not square, where the shapes cannot tell and the names are trusted).
    private static bool LegacyNames(WeightBuilder block0, MmprojConfig config) =>
        config.IntermediateSize != config.HiddenSize && block0.Contains("ffn_down.weight")
        && block0.Info("ffn_down.weight").Dims is { Count: 2 } dims && dims[1] == config.HiddenSize && dims[0] == config.IntermediateSize;

    /// <summary>Pixels [B, 3, H, W] (H, W multiples of the patch; positions interpolated when not the trained size) to
    /// the last stored block's output [B, 1 + N, D] and the pooled class token [B, D] (after <c>v.post_ln</c> when the
    /// file has it, the raw class token otherwise); every hidden state too when <paramref name="hiddenStates"/>.</summary>
    public EncoderOutput Forward(Tensor pixels, bool hiddenStates = false)
    {
        var states = hiddenStates ? new List<Tensor>() : null;
        var last = Run(pixels, null, states);
        using var cls = last.Select(1, 0);
        return new EncoderOutput(last, PostNorm?.Forward(cls) ?? cls.Share(), states);
    }

    /// <summary>hidden_states[<paramref name="layer"/>] [B, 1 + N, D] (0: the embeddings after <c>v.pre_ln</c>, i: after
    /// stored block i; negative from the end), running only the blocks it needs; without the class token's row unless
    /// <paramref name="classToken"/>.</summary>
    public Tensor HiddenState(Tensor pixels, int layer, bool classToken = true)
    {
        using var h = Run(pixels, Encoder.BlocksFor(layer), null);
        return classToken ? h.Share() : h.Narrow(1, 1, h.Dim(1) - 1);
    }

    /// <summary>CLIP's projected, unnormalised image features [B, P] (needs <c>visual_projection.weight</c>).</summary>
    public Tensor ImageFeatures(Tensor pixels)
    {
        var projection = VisualProjection ?? throw new TesseraException("mmproj: this file has no visual_projection.weight");
        if (PostNorm is null) throw new TesseraException("mmproj: this file has no v.post_ln, so it has no pooled output to project");
        using var o = Forward(pixels);
        return projection.Forward(o.Pooled);
    }

    /// <summary>The image as the language model sees it (llama.cpp's LLaVA graph): <see cref="PatchFeatures"/> through
    /// <c>mm.0</c>, GELU and <c>mm.2</c>: [B, N, T].</summary>
    public Tensor ProjectImage(Tensor pixels)
    {
        var projector = Projector ?? throw new TesseraException("mmproj: this file has no LLaVA projector (clip.projector_type mlp, mm.0/mm.2)");
        using var features = PatchFeatures(pixels);
        return projector.Forward(features);
    }

    /// <summary>The projector's input [B, N, D * layers], patch rows only, chosen as clip.cpp's <c>build_llava</c> does:
    /// without <c>clip.vision.feature_layer</c>, hidden_states[<c>block_count</c> - 1] (clip.cpp runs all but the last
    /// stored block; the old converter had already dropped the model's last layer, so a LLaVA-1.5 file gives
    /// hidden_states[22] of CLIP ViT-L's 24 layers), with <c>v.post_ln</c> on it when the file has one; with feature
    /// layers, those hidden states in ascending order (the deepest after <c>v.post_ln</c>), concatenated along the width.
    /// <see cref="HiddenState"/> gives any other layer.</summary>
    public Tensor PatchFeatures(Tensor pixels)
    {
        var layers = Config.FeatureLayers.Distinct().Order().ToArray();
        int deepest = layers.Length == 0 ? Encoder.Layers.Count - 1 : layers[^1];
        var states = new List<Tensor>();
        try
        {
            using var last = Run(pixels, deepest, states);
            using var final = PostNorm is null ? last.Share() : PostNorm.Forward(last);
            var chosen = layers.Length == 0 ? [final] : layers.Select(l => l == deepest ? final : states[l]).ToArray();
            var parts = chosen.Select(t => t.Narrow(1, 1, t.Dim(1) - 1)).ToArray();
            if (parts.Length == 1) return parts[0];
            try { return Tensor.Concat(2, parts); }
            finally { foreach (var p in parts) p.Dispose(); }
        }
        finally { foreach (var s in states) s.Dispose(); }
    }

    private Tensor Run(Tensor pixels, int? blocks, List<Tensor>? states)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        using var e = Embeddings.Forward(pixels);
        using var x = PreNorm.Forward(e);
        return Encoder.Forward(x, null, blocks, states);
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
