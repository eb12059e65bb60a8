using System.Text.Json;
using Tessera.Formats;

namespace Tessera.Models.Diffusion;

/// <summary>The keys of diffusers' <c>DiTTransformer2DModel</c> config.json that shape the network (defaults as its
/// constructor's: DiT-XL/2 at 256x256).</summary>
/// <param name="NumAttentionHeads">Heads per block.</param>
/// <param name="AttentionHeadDim">Width of one head; the model width is heads x this.</param>
/// <param name="InChannels">Latent channels in.</param>
/// <param name="OutChannels">Channels out (2 x in with learned sigma); null means in.</param>
/// <param name="NumLayers">Transformer blocks.</param>
/// <param name="SampleSize">Latent side the position table was built for (its grid is this / patch).</param>
/// <param name="PatchSize">Patch side.</param>
/// <param name="NumEmbedsAdaNorm">Classes (the label table has one more row when it holds the null class).</param>
/// <param name="NormEps">Epsilon of the blocks' second LayerNorm (the adaLN norms use 1e-6).</param>
public sealed record DitConfig(int NumAttentionHeads = 16, int AttentionHeadDim = 72, int InChannels = 4, int? OutChannels = null,
    int NumLayers = 28, int SampleSize = 32, int PatchSize = 2, int NumEmbedsAdaNorm = 1000, double NormEps = 1e-5)
{
    /// <summary>How the checkpoint names and arranges its tensors (diffusers unless read from an original checkpoint).</summary>
    public DitLayout Layout { get; init; } = DitLayout.Diffusers;

    /// <summary>The model width.</summary>
    public int InnerDim => NumAttentionHeads * AttentionHeadDim;

    /// <summary>Channels the model outputs.</summary>
    public int OutputChannels => OutChannels ?? InChannels;

    /// <summary>Reads a config.json (or a folder holding one); keys that are absent keep the defaults, and settings this
    /// implementation does not support (another norm_type or activation) are refused by name.</summary>
    public static DitConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new TesseraException($"DiT config: {file} does not exist");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException ex) { throw new TesseraException($"DiT config {file}: not valid JSON ({ex.Message})"); }
        using var _ = doc;
        var root = doc.RootElement;
        var d = new DitConfig();
        int Int(string key, int fallback) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        string? Str(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        if (root.ValueKind != JsonValueKind.Object) throw new TesseraException($"DiT config {file}: the top level must be an object");
        if (Str("norm_type") is { } norm && norm != "ada_norm_zero")
            throw new TesseraException($"DiT config {file}: norm_type \"{norm}\" is not supported (only \"ada_norm_zero\")");
        if (Str("activation_fn") is { } act && act != "gelu-approximate")
            throw new TesseraException($"DiT config {file}: activation_fn \"{act}\" is not supported (only \"gelu-approximate\")");
        int? outCh = root.TryGetProperty("out_channels", out var o) && o.ValueKind == JsonValueKind.Number ? o.GetInt32() : null;
        var c = new DitConfig(Int("num_attention_heads", d.NumAttentionHeads), Int("attention_head_dim", d.AttentionHeadDim),
            Int("in_channels", d.InChannels), outCh, Int("num_layers", d.NumLayers), Int("sample_size", d.SampleSize),
            Int("patch_size", d.PatchSize), Int("num_embeds_ada_norm", d.NumEmbedsAdaNorm),
            root.TryGetProperty("norm_eps", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : d.NormEps);
        c.Validate(file);
        return c;
    }

    /// <summary>Throws naming the key when the sizes cannot describe a DiT.</summary>
    public void Validate(string source = "DiT config")
    {
        if (NumAttentionHeads <= 0 || AttentionHeadDim <= 0 || InChannels <= 0 || OutputChannels <= 0 || NumLayers <= 0
            || PatchSize <= 0 || SampleSize <= 0 || NumEmbedsAdaNorm <= 0)
            throw new TesseraException($"{source}: every size must be positive, got {this}");
        if (InnerDim % 4 != 0)
            throw new TesseraException($"{source}: the width {InnerDim} (heads {NumAttentionHeads} x head dim {AttentionHeadDim}) must be a multiple of 4 for the 2-D sin-cos positions");
        if (SampleSize % PatchSize != 0)
            throw new TesseraException($"{source}: sample_size {SampleSize} is not a multiple of patch_size {PatchSize}");
    }
}

/// <summary>The two published DiT checkpoint layouts.</summary>
public enum DitLayout
{
    /// <summary>diffusers' DiTTransformer2DModel (config.json + diffusion_pytorch_model.safetensors).</summary>
    Diffusers,
    /// <summary>facebookresearch/DiT's state dict (DiT-XL-2-256x256.pt): no config, sizes from the tensor shapes.</summary>
    Original,
}
