using System.Text.Json;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>The keys of diffusers' <c>AutoencoderKL</c> config.json that shape the network (defaults as its
/// constructor's, except the widths, which default to Stable Diffusion's 128/256/512/512 with 2 layers a block).</summary>
/// <param name="BlockOutChannels">Widths of the encoder's levels (the decoder runs them in reverse); the spatial
/// factor is 2^(levels - 1).</param>
/// <param name="LayersPerBlock">ResNet blocks per encoder level (the decoder has one more per level).</param>
/// <param name="LatentChannels">C of the latent.</param>
/// <param name="NormNumGroups">GroupNorm groups everywhere.</param>
/// <param name="InChannels">Image channels in.</param>
/// <param name="OutChannels">Image channels out.</param>
/// <param name="ScalingFactor">The diffusion model's latent = (latent - shift) x this.</param>
/// <param name="ShiftFactor">See <paramref name="ScalingFactor"/>; null (SD 1.x/2.x, SDXL) is 0.</param>
/// <param name="UseQuantConv">Whether quant_conv (1x1, 2C -> 2C) follows the encoder (false in SD3 and FLUX).</param>
/// <param name="UsePostQuantConv">Whether post_quant_conv (1x1, C -> C) precedes the decoder.</param>
/// <param name="MidBlockAddAttention">Whether the mid blocks have their self-attention.</param>
/// <param name="SampleSize">The image side the model was trained at: the default tile side of tiled decoding.</param>
public sealed record AutoencoderKlConfig(int[] BlockOutChannels, int LayersPerBlock = 2, int LatentChannels = 4, int NormNumGroups = 32,
    int InChannels = 3, int OutChannels = 3, double ScalingFactor = 0.18215, double? ShiftFactor = null, bool UseQuantConv = true,
    bool UsePostQuantConv = true, bool MidBlockAddAttention = true, int SampleSize = 512)
{
    /// <summary>Stable Diffusion 1.x/2.x's VAE (diffusers' "vae/config.json" of runwayml/stable-diffusion-v1-5).</summary>
    public static AutoencoderKlConfig StableDiffusion { get; } = new([128, 256, 512, 512]);

    /// <summary>The spatial factor between image and latent: 2 per downsampling level.</summary>
    public int SpatialFactor => 1 << (BlockOutChannels.Length - 1);

    /// <summary>Reads a config.json (or a folder holding one); absent keys keep the defaults; block types, activation
    /// or norm this implementation does not have are refused by name.</summary>
    public static AutoencoderKlConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new TesseraException($"AutoencoderKL config: {file} does not exist");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(file)); }
        catch (JsonException ex) { throw new TesseraException($"AutoencoderKL config {file}: not valid JSON ({ex.Message})"); }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new TesseraException($"AutoencoderKL config {file}: the top level must be an object");
        if (Str(root, "_class_name") is { } cls && cls != "AutoencoderKL")
            throw new TesseraException($"{file}: _class_name is \"{cls}\", not \"AutoencoderKL\"");
        if (Str(root, "act_fn") is { } act && act != "silu")
            throw new TesseraException($"AutoencoderKL config {file}: act_fn \"{act}\" is not supported (only \"silu\")");
        foreach (var (key, want) in new[] { ("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D") })
            if (root.TryGetProperty(key, out var types) && types.ValueKind == JsonValueKind.Array)
                foreach (var t in types.EnumerateArray())
                    if (t.GetString() != want) throw new TesseraException($"AutoencoderKL config {file}: {key} holds \"{t}\", only \"{want}\" is supported");
        var d = StableDiffusion;
        int[] widths = d.BlockOutChannels;
        if (root.TryGetProperty("block_out_channels", out var b))
        {
            if (b.ValueKind != JsonValueKind.Array || b.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number))
                throw new TesseraException($"AutoencoderKL config {file}: block_out_channels must be an array of integers, got {b}");
            widths = [.. b.EnumerateArray().Select(e => e.GetInt32())];
        }
        var c = new AutoencoderKlConfig(widths, Int(root, "layers_per_block", d.LayersPerBlock), Int(root, "latent_channels", d.LatentChannels),
            Int(root, "norm_num_groups", d.NormNumGroups), Int(root, "in_channels", d.InChannels), Int(root, "out_channels", d.OutChannels),
            Num(root, "scaling_factor") ?? d.ScalingFactor, Num(root, "shift_factor"), Bool(root, "use_quant_conv", true),
            Bool(root, "use_post_quant_conv", true), Bool(root, "mid_block_add_attention", true), SampleSide(root, d.SampleSize));
        c.Validate(file);
        return c;
    }

    /// <summary>Throws naming the key when the sizes cannot describe an AutoencoderKL.</summary>
    public void Validate(string source = "AutoencoderKL config")
    {
        ArgumentNullException.ThrowIfNull(BlockOutChannels);
        if (BlockOutChannels.Length == 0 || BlockOutChannels.Any(w => w <= 0))
            throw new TesseraException($"{source}: block_out_channels must be positive widths, got [{string.Join(", ", BlockOutChannels)}]");
        if (LayersPerBlock <= 0 || LatentChannels <= 0 || NormNumGroups <= 0 || InChannels <= 0 || OutChannels <= 0 || SampleSize <= 0)
            throw new TesseraException($"{source}: layers_per_block, latent_channels, norm_num_groups, in_channels, out_channels and sample_size must be positive, got {this}");
        foreach (int w in BlockOutChannels)
            if (w % NormNumGroups != 0)
                throw new TesseraException($"{source}: block_out_channels width {w} does not split into norm_num_groups {NormNumGroups}");
        if (ScalingFactor == 0 || !double.IsFinite(ScalingFactor))
            throw new TesseraException($"{source}: scaling_factor must be finite and non-zero, got {ScalingFactor}");
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"AutoencoderKL(block_out_channels [{string.Join(", ", BlockOutChannels)}], layers_per_block {LayersPerBlock}, latent_channels {LatentChannels}, norm_num_groups {NormNumGroups}, scaling {ScalingFactor}, shift {ShiftFactor})";

    private static string? Str(JsonElement root, string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Int(JsonElement root, string key, int fallback) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    private static double? Num(JsonElement root, string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static bool Bool(JsonElement root, string key, bool fallback) =>
        root.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    // sample_size is a number or, in some configs, a [h, w] pair.
    private static int SampleSide(JsonElement root, int fallback)
    {
        if (!root.TryGetProperty("sample_size", out var v)) return fallback;
        if (v.ValueKind == JsonValueKind.Number) return v.GetInt32();
        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v[0].ValueKind == JsonValueKind.Number) return v[0].GetInt32();
        return fallback;
    }
}
