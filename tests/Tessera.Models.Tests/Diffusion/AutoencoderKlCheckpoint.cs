using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Diffusion.Vae;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>A random-weight AutoencoderKL in diffusers' published layout: every parameter's name and shape for a
/// config (written from diffusers' module tree, independently of the model's loader), random values at PyTorch's
/// default initialisation scale, and the folder diffusers saves (config.json + diffusion_pytorch_model.safetensors),
/// optionally with the pre-0.14 attention names (query, key, value, proj_attn).</summary>
internal sealed class AutoencoderKlCheckpoint
{
    public AutoencoderKlConfig Config { get; }

    /// <summary>Parameter name (diffusers' current names) -> values and shape.</summary>
    public Dictionary<string, (float[] Values, int[] Shape)> Tensors { get; } = [];

    public AutoencoderKlCheckpoint(AutoencoderKlConfig config, Func<string, float, int[], float[]> random)
    {
        Config = config;
        void Conv(string n, int cin, int cout, int k)
        {
            float bound = 1 / MathF.Sqrt(cin * k * k);
            Tensors[n + ".weight"] = (random(n + ".weight", bound, [cout, cin, k, k]), [cout, cin, k, k]);
            Tensors[n + ".bias"] = (random(n + ".bias", bound, [cout]), [cout]);
        }
        void Norm(string n, int c)
        {
            var w = random(n + ".weight", 0.2f, [c]);
            for (int i = 0; i < w.Length; i++) w[i] += 1;   // scales near 1, as trained norms keep them
            Tensors[n + ".weight"] = (w, [c]);
            Tensors[n + ".bias"] = (random(n + ".bias", 0.2f, [c]), [c]);
        }
        void Linear(string n, int c)
        {
            float bound = 1 / MathF.Sqrt(c);
            Tensors[n + ".weight"] = (random(n + ".weight", bound, [c, c]), [c, c]);
            Tensors[n + ".bias"] = (random(n + ".bias", bound, [c]), [c]);
        }
        void Resnet(string n, int cin, int cout)
        {
            Norm(n + ".norm1", cin);
            Conv(n + ".conv1", cin, cout, 3);
            Norm(n + ".norm2", cout);
            Conv(n + ".conv2", cout, cout, 3);
            if (cin != cout) Conv(n + ".conv_shortcut", cin, cout, 1);
        }
        void Mid(string n, int c)
        {
            Resnet(n + ".resnets.0", c, c);
            if (config.MidBlockAddAttention)
            {
                Norm(n + ".attentions.0.group_norm", c);
                foreach (var p in new[] { "to_q", "to_k", "to_v", "to_out.0" }) Linear($"{n}.attentions.0.{p}", c);
            }
            Resnet(n + ".resnets.1", c, c);
        }
        var widths = config.BlockOutChannels;
        int lat = config.LatentChannels, top = widths[^1];
        Conv("encoder.conv_in", config.InChannels, widths[0], 3);
        for (int i = 0, width = widths[0]; i < widths.Length; i++)
        {
            for (int j = 0; j < config.LayersPerBlock; j++, width = widths[i]) Resnet($"encoder.down_blocks.{i}.resnets.{j}", width, widths[i]);
            if (i < widths.Length - 1) Conv($"encoder.down_blocks.{i}.downsamplers.0.conv", widths[i], widths[i], 3);
        }
        Mid("encoder.mid_block", top);
        Norm("encoder.conv_norm_out", top);
        Conv("encoder.conv_out", top, 2 * lat, 3);
        if (config.UseQuantConv) Conv("quant_conv", 2 * lat, 2 * lat, 1);
        if (config.UsePostQuantConv) Conv("post_quant_conv", lat, lat, 1);
        Conv("decoder.conv_in", lat, top, 3);
        Mid("decoder.mid_block", top);
        var up = widths.Reverse().ToArray();
        for (int i = 0, width = up[0]; i < up.Length; i++)
        {
            for (int j = 0; j <= config.LayersPerBlock; j++, width = up[i]) Resnet($"decoder.up_blocks.{i}.resnets.{j}", width, up[i]);
            if (i < up.Length - 1) Conv($"decoder.up_blocks.{i}.upsamplers.0.conv", up[i], up[i], 3);
        }
        Norm("decoder.conv_norm_out", up[^1]);
        Conv("decoder.conv_out", up[^1], config.OutChannels, 3);
    }

    /// <summary>config.json as diffusers writes it for this config.</summary>
    public string ConfigJson()
    {
        var c = Config;
        var d = new Dictionary<string, object?>
        {
            ["_class_name"] = "AutoencoderKL", ["_diffusers_version"] = "0.31.0", ["act_fn"] = "silu",
            ["block_out_channels"] = c.BlockOutChannels, ["down_block_types"] = Enumerable.Repeat("DownEncoderBlock2D", c.BlockOutChannels.Length),
            ["up_block_types"] = Enumerable.Repeat("UpDecoderBlock2D", c.BlockOutChannels.Length), ["in_channels"] = c.InChannels,
            ["out_channels"] = c.OutChannels, ["latent_channels"] = c.LatentChannels, ["layers_per_block"] = c.LayersPerBlock,
            ["norm_num_groups"] = c.NormNumGroups, ["sample_size"] = c.SampleSize, ["scaling_factor"] = c.ScalingFactor,
            ["shift_factor"] = c.ShiftFactor, ["use_quant_conv"] = c.UseQuantConv, ["use_post_quant_conv"] = c.UsePostQuantConv,
            ["mid_block_add_attention"] = c.MidBlockAddAttention, ["force_upcast"] = true,
        };
        return JsonSerializer.Serialize(d);
    }

    /// <summary>Writes config.json and diffusion_pytorch_model.safetensors into <paramref name="dir"/>.</summary>
    public void WriteFolder(string dir, bool legacyAttentionNames = false)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson());
        SafetensorsWriter.Write(Path.Combine(dir, "diffusion_pytorch_model.safetensors"),
            [.. Tensors.Select(t => WeightTensor.FromValues(legacyAttentionNames ? Legacy(t.Key) : t.Key, t.Value.Shape.Select(x => (long)x).ToArray(), t.Value.Values))]);
    }

    private static string Legacy(string name) => name.Replace(".to_q.", ".query.", StringComparison.Ordinal)
        .Replace(".to_k.", ".key.", StringComparison.Ordinal).Replace(".to_v.", ".value.", StringComparison.Ordinal)
        .Replace(".to_out.0.", ".proj_attn.", StringComparison.Ordinal);
}
