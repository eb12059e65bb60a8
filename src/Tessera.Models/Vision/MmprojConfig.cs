using Tessera.Formats.Gguf;
using Tessera.Imaging;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>The metadata of a llama.cpp <c>mmproj</c> GGUF file (architecture <c>clip</c>) that the CLIP vision tower and
/// the LLaVA projector need, read under the keys llama.cpp's <c>tools/mtmd/clip-impl.h</c> defines and its converters
/// write (<c>clip.vision.embedding_length</c>, <c>clip.use_gelu</c>, <c>clip.projector_type</c>, ...).</summary>
public sealed record MmprojConfig
{
    // CLIP's (OpenAI) normalisation, which llama.cpp's converter writes when a model gives none.
    private static readonly float[] ClipMean = [0.48145466f, 0.4578275f, 0.40821073f];
    private static readonly float[] ClipStd = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>The tower's trained input resolution (<c>clip.vision.image_size</c>).</summary>
    public required int ImageSize { get; init; }

    /// <summary>Patch side (<c>clip.vision.patch_size</c>).</summary>
    public required int PatchSize { get; init; }

    /// <summary>Width of the residual stream (<c>clip.vision.embedding_length</c>).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Width of the MLP's hidden layer (<c>clip.vision.feed_forward_length</c>).</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Blocks stored in the file (<c>clip.vision.block_count</c>). llama.cpp's LLaVA converter drops the
    /// model's last layer, so a LLaVA-1.5 file holds 23 of CLIP ViT-L's 24 and its last block is the penultimate layer.</summary>
    public required int BlockCount { get; init; }

    /// <summary>Attention heads (<c>clip.vision.attention.head_count</c>).</summary>
    public required int HeadCount { get; init; }

    /// <summary>LayerNorm epsilon (<c>clip.vision.attention.layer_norm_epsilon</c>).</summary>
    public required float LayerNormEps { get; init; }

    /// <summary>The MLP's activation: exact GELU when <c>clip.use_gelu</c> (the converter writes it for hidden_act
    /// "gelu"), SiLU when <c>clip.use_silu</c>, CLIP's quick GELU otherwise.</summary>
    public required Activation Activation { get; init; }

    /// <summary><c>clip.vision.projection_dim</c> (CLIP's shared embedding width), or null when absent.</summary>
    public int? ProjectionDim { get; init; }

    /// <summary>Per-channel mean (<c>clip.vision.image_mean</c>; CLIP's when absent).</summary>
    public IReadOnlyList<float> ImageMean { get; init; } = ClipMean;

    /// <summary>Per-channel standard deviation (<c>clip.vision.image_std</c>; CLIP's when absent).</summary>
    public IReadOnlyList<float> ImageStd { get; init; } = ClipStd;

    /// <summary>The projector (<c>clip.projector_type</c>; "mlp" when only <c>clip.has_llava_projector</c> is set, as
    /// llama.cpp reads older files), or null for a vision-only file.</summary>
    public string? ProjectorType { get; init; }

    /// <summary><c>clip.vision.feature_layer</c>: the hidden-state indices (0: the embeddings, i: after block i) the
    /// projector reads, concatenated along the width when there are several; empty means the last stored block.</summary>
    public IReadOnlyList<int> FeatureLayers { get; init; } = [];

    /// <summary>Whether the file carries LLaVA's two-layer MLP projector (<c>mm.0</c>, GELU, <c>mm.2</c>).</summary>
    public bool HasMlpProjector => ProjectorType == "mlp";

    /// <summary>CLIPImageProcessor's steps at the tower's resolution with the file's mean and std (shortest side to
    /// <see cref="ImageSize"/>, bicubic, centre crop). llama.cpp's LLaVA-1.5 path pads to a square first; callers that
    /// want that pad the image before.</summary>
    public ImageProcessorOptions Preprocessor => ImageProcessorOptions.Clip(ImageSize) with { Mean = [.. ImageMean], Std = [.. ImageStd] };

    /// <summary>Reads the metadata of an open mmproj file. A file that is not a CLIP mmproj, has no vision encoder, lacks
    /// a required key or gives a projector this runtime does not implement is refused, naming the key and the file.</summary>
    public static MmprojConfig Read(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        string arch = gguf.GetOrDefault("general.architecture", "");
        if (arch != "clip")
            throw new TesseraException($"{gguf.Path}: general.architecture is '{arch}', an mmproj file has 'clip'");
        if (!gguf.GetOrDefault("clip.has_vision_encoder", true))
            throw new TesseraException($"{gguf.Path}: clip.has_vision_encoder is false: the file has no vision tower");
        string? projector = gguf.TryGetString("clip.projector_type", out var p) ? p
            : gguf.GetOrDefault("clip.has_llava_projector", false) ? "mlp" : null;
        if (projector is not null && projector != "mlp")
            throw new TesseraException($"{gguf.Path}: clip.projector_type '{projector}' is not supported (mlp: LLaVA's two-layer projector)");
        var config = new MmprojConfig
        {
            ImageSize = Positive(gguf, "clip.vision.image_size"),
            PatchSize = Positive(gguf, "clip.vision.patch_size"),
            HiddenSize = Positive(gguf, "clip.vision.embedding_length"),
            IntermediateSize = Positive(gguf, "clip.vision.feed_forward_length"),
            BlockCount = Positive(gguf, "clip.vision.block_count"),
            HeadCount = Positive(gguf, "clip.vision.attention.head_count"),
            LayerNormEps = gguf.GetFloat("clip.vision.attention.layer_norm_epsilon"),
            Activation = gguf.GetOrDefault("clip.use_gelu", false) ? Activation.Gelu
                : gguf.GetOrDefault("clip.use_silu", false) ? Activation.Silu : Activation.QuickGelu,
            ProjectionDim = gguf.TryGetInt("clip.vision.projection_dim", out int pd) ? pd : null,
            ImageMean = gguf.TryGetArray<float>("clip.vision.image_mean", out var mean) ? mean : ClipMean,
            ImageStd = gguf.TryGetArray<float>("clip.vision.image_std", out var std) ? std : ClipStd,
            ProjectorType = projector,
            FeatureLayers = gguf.TryGetArray<int>("clip.vision.feature_layer", out var layers) ? layers : [],
        };
        config.Validate(gguf.Path);
        return config;
    }

    private void Validate(string path)
    {
        if (ImageSize % PatchSize != 0)
            throw new TesseraException($"{path}: clip.vision.image_size {ImageSize} is not a multiple of clip.vision.patch_size {PatchSize}");
        if (HiddenSize % HeadCount != 0)
            throw new TesseraException($"{path}: clip.vision.embedding_length {HiddenSize} is not a multiple of clip.vision.attention.head_count {HeadCount}");
        if (ImageMean.Count != 3 || ImageStd.Count != 3)
            throw new TesseraException($"{path}: clip.vision.image_mean and image_std need 3 values each, they have {ImageMean.Count} and {ImageStd.Count}");
        foreach (int l in FeatureLayers)
            if (l < 0 || l > BlockCount)
                throw new TesseraException($"{path}: clip.vision.feature_layer {l} is outside 0..{BlockCount} (clip.vision.block_count {BlockCount})");
    }

    private static int Positive(GgufFile gguf, string key)
    {
        if (!gguf.TryGet<long>(key, out long v))
            throw new TesseraException($"{gguf.Path}: the mmproj metadata has no '{key}'");
        if (v <= 0 || v > 1 << 20) throw new TesseraException($"{gguf.Path}: {key} is {v}, expected a positive size");
        return (int)v;
    }
}
