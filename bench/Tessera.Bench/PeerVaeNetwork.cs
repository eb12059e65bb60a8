using System.Text.Json;
using Tessera.Bench.Onnx;
using static Tessera.Bench.Onnx.OnnxAttributes;
using Tessera.Formats;
using Tessera.Formats.Safetensors;

namespace Tessera.Bench;

/// <summary>Stable Diffusion's AutoencoderKL decoder (latent 4 channels, block_out_channels 128/256/512/512, 2 layers a
/// block, so 3 resnets a decoder level, GroupNorm 32, eps 1e-6) with random weights, written twice: as the diffusers
/// vae/ folder (config.json + diffusion_pytorch_model.safetensors, decoder and post_quant_conv only) for Tessera's
/// AutoencoderKl, and as an ONNX graph of the same network for ONNX Runtime (opset 17: Conv, GroupNorm as
/// Reshape + InstanceNormalization + Reshape + Mul + Add (what torch.onnx exports), SiLU as x·Sigmoid(x), Resize nearest,
/// single-head attention as MatMul / Softmax / MatMul).</summary>
internal sealed class PeerVaeNetwork
{
    public const int Latent = 4, Groups = 32, LayersPerBlock = 2;
    public static readonly int[] Widths = [128, 256, 512, 512];
    private const float Eps = 1e-6f;

    private readonly Random _rng = new(11);
    private readonly Dictionary<string, (float[] Values, int[] Shape)> _w = [];

    public PeerVaeNetwork()
    {
        Conv("post_quant_conv", Latent, Latent, 1);
        int top = Widths[^1];
        Conv("decoder.conv_in", Latent, top, 3);
        Mid("decoder.mid_block", top);
        var up = Widths.Reverse().ToArray();
        for (int i = 0, width = up[0]; i < up.Length; i++)
        {
            for (int j = 0; j <= LayersPerBlock; j++, width = up[i]) Resnet($"decoder.up_blocks.{i}.resnets.{j}", width, up[i]);
            if (i < up.Length - 1) Conv($"decoder.up_blocks.{i}.upsamplers.0.conv", up[i], up[i], 3);
        }
        Norm("decoder.conv_norm_out", up[^1]);
        Conv("decoder.conv_out", up[^1], 3, 3);
    }

    /// <summary>Writes the vae/ folder diffusers saves (only the decoder's tensors).</summary>
    public void WriteFolder(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["_class_name"] = "AutoencoderKL", ["act_fn"] = "silu", ["block_out_channels"] = Widths, ["in_channels"] = 3, ["out_channels"] = 3,
            ["latent_channels"] = Latent, ["layers_per_block"] = LayersPerBlock, ["norm_num_groups"] = Groups, ["sample_size"] = 512,
            ["scaling_factor"] = 0.18215,
        }));
        SafetensorsWriter.Write(Path.Combine(dir, "diffusion_pytorch_model.safetensors"),
            [.. _w.Select(t => WeightTensor.FromValues(t.Key, t.Value.Shape.Select(x => (long)x).ToArray(), t.Value.Values))]);
    }

    /// <summary>The decoder as ONNX: input "z" [1, 4, h, w], output "y" [1, 3, 8h, 8w].</summary>
    public byte[] Onnx(int h, int w)
    {
        var g = new OnnxModelBuilder.Proto();
        var inits = new List<OnnxModelBuilder.Proto>();
        int node = 0;
        string Node(string op, string[] inputs, params byte[][] attributes)
        {
            string output = $"t{node++}";
            var p = new OnnxModelBuilder.Proto();
            foreach (var i in inputs) p.Str(1, i);
            p.Str(2, output).Str(3, output).Str(4, op);
            foreach (var a in attributes) p.Bytes(5, a);
            g.Msg(1, p);
            return output;
        }
        string Raw(string name, int type, byte[] raw, params int[] dims)
        {
            var t = new OnnxModelBuilder.Proto();
            foreach (int x in dims) t.Varint(1, x);
            inits.Add(t.Varint(2, type).Str(8, name).Bytes(9, raw));
            return name;
        }
        string Floats(string name, float[] v, params int[] dims) => Raw(name, OnnxModelBuilder.Float, Bytes(v), dims);
        string Longs(string name, params long[] v) => Raw(name, 7, Bytes(v), v.Length);
        string Get(string name) => Floats(name, _w[name].Values, _w[name].Shape);
        string ConvNode(string x, string n)
        {
            int k = _w[n + ".weight"].Shape[2], pad = k / 2;
            return Node("Conv", [x, Get(n + ".weight"), Get(n + ".bias")], IntsAttr("kernel_shape", k, k), IntsAttr("pads", pad, pad, pad, pad));
        }
        string GroupNorm(string x, string n, int c, int hh, int ww)
        {
            string grouped = Node("Reshape", [x, Longs($"{n}.shape_g", 1, Groups, -1)]);
            string normed = Node("InstanceNormalization", [grouped, Floats($"{n}.ones", Fill(Groups, 1), Groups), Floats($"{n}.zeros", Fill(Groups, 0), Groups)], FloatAttr("epsilon", Eps));
            string back = Node("Reshape", [normed, Longs($"{n}.shape_c", 1, c, hh, ww)]);
            string scaled = Node("Mul", [back, Floats(n + ".w3", _w[n + ".weight"].Values, c, 1, 1)]);
            return Node("Add", [scaled, Floats(n + ".b3", _w[n + ".bias"].Values, c, 1, 1)]);
        }
        string Silu(string x) => Node("Mul", [x, Node("Sigmoid", [x])]);
        string Resnet(string x, string n, int cin, int cout, int hh, int ww)
        {
            string a = ConvNode(Silu(GroupNorm(x, n + ".norm1", cin, hh, ww)), n + ".conv1");
            string b = ConvNode(Silu(GroupNorm(a, n + ".norm2", cout, hh, ww)), n + ".conv2");
            return Node("Add", [cin != cout ? ConvNode(x, n + ".conv_shortcut") : x, b]);
        }
        string Linear(string x, string n, int c) =>
            Node("Add", [Node("MatMul", [x, Floats(n + ".wT", Transpose(_w[n + ".weight"].Values, c), c, c)]), Get(n + ".bias")]);
        string Attention(string x, string n, int c, int hh, int ww)
        {
            string normed = GroupNorm(x, n + ".group_norm", c, hh, ww);
            string tokens = Node("Transpose", [Node("Reshape", [normed, Longs(n + ".shape_flat", 1, c, hh * ww)])], IntsAttr("perm", 0, 2, 1));
            string q = Linear(tokens, n + ".to_q", c), k = Linear(tokens, n + ".to_k", c), v = Linear(tokens, n + ".to_v", c);
            string scores = Node("Mul", [Node("MatMul", [q, Node("Transpose", [k], IntsAttr("perm", 0, 2, 1))]), Floats(n + ".scale", [1 / MathF.Sqrt(c)])]);
            string o = Linear(Node("MatMul", [Node("Softmax", [scores], IntAttr("axis", -1)), v]), n + ".to_out.0", c);
            string back = Node("Reshape", [Node("Transpose", [o], IntsAttr("perm", 0, 2, 1)), Longs(n + ".shape_img", 1, c, hh, ww)]);
            return Node("Add", [x, back]);
        }

        int top = Widths[^1], ch = h, cw = w;
        string y = ConvNode(ConvNode("z", "post_quant_conv"), "decoder.conv_in");
        y = Resnet(y, "decoder.mid_block.resnets.0", top, top, ch, cw);
        y = Attention(y, "decoder.mid_block.attentions.0", top, ch, cw);
        y = Resnet(y, "decoder.mid_block.resnets.1", top, top, ch, cw);
        var up = Widths.Reverse().ToArray();
        for (int i = 0, width = up[0]; i < up.Length; i++)
        {
            for (int j = 0; j <= LayersPerBlock; j++, width = up[i]) y = Resnet(y, $"decoder.up_blocks.{i}.resnets.{j}", width, up[i], ch, cw);
            if (i < up.Length - 1)
            {
                y = Node("Resize", [y, "", Floats($"scales{i}", [1, 1, 2, 2], 4)], StrAttr("mode", "nearest"),
                    StrAttr("coordinate_transformation_mode", "asymmetric"), StrAttr("nearest_mode", "floor"));
                (ch, cw) = (2 * ch, 2 * cw);
                y = ConvNode(y, $"decoder.up_blocks.{i}.upsamplers.0.conv");
            }
        }
        y = ConvNode(Silu(GroupNorm(y, "decoder.conv_norm_out", up[^1], ch, cw)), "decoder.conv_out");
        g.Msg(1, new OnnxModelBuilder.Proto().Str(1, y).Str(2, "y").Str(3, "out").Str(4, "Identity"));
        g.Str(2, "vae_decoder");
        foreach (var i in inits) g.Msg(5, i);
        g.Msg(11, OnnxModelBuilder.ValueInfo("z", 1, Latent, h, w)).Msg(12, OnnxModelBuilder.ValueInfo("y", 1, 3, ch, cw));
        var opset = new OnnxModelBuilder.Proto().Str(1, "").Varint(2, 17);
        return new OnnxModelBuilder.Proto().Varint(1, 8).Msg(7, g).Msg(8, opset).ToArray();
    }

    private void W(string name, float scale, params int[] shape)
    {
        var v = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * scale);
        _w[name] = (v, shape);
    }

    private void Conv(string n, int cin, int cout, int k)
    {
        W(n + ".weight", 1 / MathF.Sqrt(cin * k * k), cout, cin, k, k);
        W(n + ".bias", 1 / MathF.Sqrt(cin * k * k), cout);
    }

    private void Norm(string n, int c)
    {
        W(n + ".weight", 0.2f, c);
        foreach (ref float x in _w[n + ".weight"].Values.AsSpan()) x += 1;
        W(n + ".bias", 0.2f, c);
    }

    private void Resnet(string n, int cin, int cout)
    {
        Norm(n + ".norm1", cin);
        Conv(n + ".conv1", cin, cout, 3);
        Norm(n + ".norm2", cout);
        Conv(n + ".conv2", cout, cout, 3);
        if (cin != cout) Conv(n + ".conv_shortcut", cin, cout, 1);
    }

    private void Mid(string n, int c)
    {
        Resnet(n + ".resnets.0", c, c);
        Norm(n + ".attentions.0.group_norm", c);
        foreach (var p in new[] { "to_q", "to_k", "to_v", "to_out.0" })
        {
            W($"{n}.attentions.0.{p}.weight", 1 / MathF.Sqrt(c), c, c);
            W($"{n}.attentions.0.{p}.bias", 1 / MathF.Sqrt(c), c);
        }
        Resnet(n + ".resnets.1", c, c);
    }

    private static float[] Fill(int n, float v) => Enumerable.Repeat(v, n).ToArray();

    private static float[] Transpose(float[] w, int c)
    {
        var t = new float[w.Length];
        for (int r = 0; r < c; r++) for (int k = 0; k < c; k++) t[k * c + r] = w[r * c + k];
        return t;
    }

    private static byte[] Bytes<T>(T[] v) where T : unmanaged
    {
        var b = new byte[v.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }
}
