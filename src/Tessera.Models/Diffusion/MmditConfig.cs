using System.Text.Json;
using Tessera.Formats;

namespace Tessera.Models.Diffusion;

/// <summary>The keys of diffusers' <c>SD3Transformer2DModel</c> config.json (defaults as its constructor's: SD3
/// Medium). SD3.5's qk RMSNorm ("qk_norm": "rms_norm") is supported; its dual-attention blocks (SD3.5 Medium's
/// "dual_attention_layers") are refused.</summary>
/// <param name="SampleSize">Latent side the position table's base grid was built for (base = this / patch).</param>
/// <param name="PatchSize">Patch side.</param>
/// <param name="InChannels">Latent channels in.</param>
/// <param name="NumLayers">Joint transformer blocks (the last one's text side is context_pre_only).</param>
/// <param name="AttentionHeadDim">Width of one head.</param>
/// <param name="NumAttentionHeads">Heads; the model width is heads x head dim.</param>
/// <param name="JointAttentionDim">Width of the text encoders' token embeddings (encoder_hidden_states).</param>
/// <param name="CaptionProjectionDim">context_embedder's output width (equal to the model width).</param>
/// <param name="PooledProjectionDim">Width of the pooled text embedding (pooled_projections).</param>
/// <param name="OutChannels">Channels out.</param>
/// <param name="PosEmbedMaxSize">Side of the stored position grid the image's grid is cropped from (centred).</param>
/// <param name="QkNorm">null, or "rms_norm": RMSNorm over each head of q and k, image and text side.</param>
public sealed record MmditConfig(int SampleSize = 128, int PatchSize = 2, int InChannels = 16, int NumLayers = 18,
    int AttentionHeadDim = 64, int NumAttentionHeads = 18, int JointAttentionDim = 4096, int CaptionProjectionDim = 1152,
    int PooledProjectionDim = 2048, int OutChannels = 16, int PosEmbedMaxSize = 96, string? QkNorm = null)
{
    /// <summary>The model width.</summary>
    public int InnerDim => NumAttentionHeads * AttentionHeadDim;

    /// <summary>Reads a config.json (or a folder holding one); absent keys keep the defaults.</summary>
    public static MmditConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new TesseraException($"MMDiT config: {file} does not exist");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException ex) { throw new TesseraException($"MMDiT config {file}: not valid JSON ({ex.Message})"); }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new TesseraException($"MMDiT config {file}: the top level must be an object");
        var d = new MmditConfig();
        int Int(string key, int fallback) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        if (root.TryGetProperty("dual_attention_layers", out var dual) && dual.ValueKind == JsonValueKind.Array && dual.GetArrayLength() > 0)
            throw new TesseraException($"MMDiT config {file}: dual_attention_layers (SD3.5 Medium's second attention) is not supported");
        string? qk = root.TryGetProperty("qk_norm", out var q) && q.ValueKind == JsonValueKind.String ? q.GetString() : null;
        var c = new MmditConfig(Int("sample_size", d.SampleSize), Int("patch_size", d.PatchSize), Int("in_channels", d.InChannels),
            Int("num_layers", d.NumLayers), Int("attention_head_dim", d.AttentionHeadDim), Int("num_attention_heads", d.NumAttentionHeads),
            Int("joint_attention_dim", d.JointAttentionDim), Int("caption_projection_dim", d.CaptionProjectionDim),
            Int("pooled_projection_dim", d.PooledProjectionDim), Int("out_channels", d.OutChannels),
            Int("pos_embed_max_size", d.PosEmbedMaxSize), qk);
        c.Validate(file);
        return c;
    }

    /// <summary>Throws naming the key when the sizes cannot describe an MMDiT this implementation runs.</summary>
    public void Validate(string source = "MMDiT config")
    {
        if (SampleSize <= 0 || PatchSize <= 0 || InChannels <= 0 || NumLayers <= 0 || AttentionHeadDim <= 0 || NumAttentionHeads <= 0
            || JointAttentionDim <= 0 || PooledProjectionDim <= 0 || OutChannels <= 0 || PosEmbedMaxSize <= 0)
            throw new TesseraException($"{source}: every size must be positive, got {this}");
        if (CaptionProjectionDim != InnerDim)
            throw new TesseraException($"{source}: caption_projection_dim {CaptionProjectionDim} must equal the width (heads {NumAttentionHeads} x head dim {AttentionHeadDim} = {InnerDim})");
        if (InnerDim % 4 != 0)
            throw new TesseraException($"{source}: the width {InnerDim} must be a multiple of 4 for the 2-D sin-cos positions");
        if (QkNorm is not null && QkNorm != "rms_norm")
            throw new TesseraException($"{source}: qk_norm \"{QkNorm}\" is not supported (only null or \"rms_norm\")");
        if (SampleSize % PatchSize != 0)
            throw new TesseraException($"{source}: sample_size {SampleSize} is not a multiple of patch_size {PatchSize}");
    }
}
