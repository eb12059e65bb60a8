using System.Text;
using Tessera.Bench.Onnx;
using static Tessera.Bench.Onnx.OnnxAttributes;
using Tessera.Formats;
using Tessera.Formats.Safetensors;

namespace Tessera.Bench;

/// <summary>One image tower with random weights, written twice: as a Hugging Face checkpoint (safetensors under the
/// published names, for Tessera's Vit / Clip loaders) and as an ONNX graph of the same network for ONNX Runtime
/// (opset 17: Conv patch embedding, LayerNormalization, MatMul + Add with [in, out] weights, com.microsoft
/// MultiHeadAttention, Gelu or QuickGelu). "vit": ViTForImageClassification (1000 classes, eps 1e-12, GELU); "clip":
/// CLIP's vision tower with pre_layrnorm, post_layernorm on the class token and the visual projection (eps 1e-5,
/// QuickGELU).</summary>
internal sealed class PeerVitNetwork
{
    private readonly Random _rng = new(7);
    private readonly List<(string Hf, float[] Values, int[] Shape)> _weights = [];

    public string Kind { get; }
    public int Dim { get; } = 768;
    public int Layers { get; } = 12;
    public int Heads { get; } = 12;
    public int Mlp { get; } = 3072;
    public int Patch { get; }
    public int Image { get; } = 224;
    public int Outputs { get; }
    public float Eps => Kind == "vit" ? 1e-12f : 1e-5f;
    public int Tokens => (Image / Patch) * (Image / Patch) + 1;

    public PeerVitNetwork(string kind)
    {
        Kind = kind;
        (Patch, Outputs) = kind == "vit" ? (16, 1000) : (32, 512);
        int d = Dim;
        if (kind == "vit")
        {
            W("vit.embeddings.patch_embeddings.projection.weight", 0.02f, d, 3, Patch, Patch);
            W("vit.embeddings.patch_embeddings.projection.bias", 0.02f, d);
            W("vit.embeddings.cls_token", 0.5f, 1, 1, d);
            W("vit.embeddings.position_embeddings", 0.5f, 1, Tokens, d);
        }
        else
        {
            W("vision_model.embeddings.patch_embedding.weight", 0.02f, d, 3, Patch, Patch);
            W("vision_model.embeddings.class_embedding", 0.5f, d);
            W("vision_model.embeddings.position_embedding.weight", 0.5f, Tokens, d);
            Norm("vision_model.pre_layrnorm");
        }
        for (int i = 0; i < Layers; i++)
        {
            var n = Names(i);
            Norm(n.Ln1);
            foreach (var q in new[] { n.Q, n.K, n.V, n.O }) Linear(q, d, d);
            Norm(n.Ln2);
            Linear(n.Fc1, d, Mlp);
            Linear(n.Fc2, Mlp, d);
        }
        if (kind == "vit")
        {
            Norm("vit.layernorm");
            Linear("classifier", d, Outputs);
        }
        else
        {
            Norm("vision_model.post_layernorm");
            W("visual_projection.weight", 0.05f, Outputs, d);
        }
    }

    public (string Ln1, string Q, string K, string V, string O, string Ln2, string Fc1, string Fc2) Names(int i) => Kind == "vit"
        ? ($"vit.encoder.layer.{i}.layernorm_before", $"vit.encoder.layer.{i}.attention.attention.query", $"vit.encoder.layer.{i}.attention.attention.key",
           $"vit.encoder.layer.{i}.attention.attention.value", $"vit.encoder.layer.{i}.attention.output.dense", $"vit.encoder.layer.{i}.layernorm_after",
           $"vit.encoder.layer.{i}.intermediate.dense", $"vit.encoder.layer.{i}.output.dense")
        : ($"vision_model.encoder.layers.{i}.layer_norm1", $"vision_model.encoder.layers.{i}.self_attn.q_proj", $"vision_model.encoder.layers.{i}.self_attn.k_proj",
           $"vision_model.encoder.layers.{i}.self_attn.v_proj", $"vision_model.encoder.layers.{i}.self_attn.out_proj", $"vision_model.encoder.layers.{i}.layer_norm2",
           $"vision_model.encoder.layers.{i}.mlp.fc1", $"vision_model.encoder.layers.{i}.mlp.fc2");

    /// <summary>config.json for Tessera's loader.</summary>
    public string ConfigJson => Kind == "vit"
        ? $$"""{"model_type": "vit", "hidden_size": {{Dim}}, "num_hidden_layers": {{Layers}}, "num_attention_heads": {{Heads}}, "intermediate_size": {{Mlp}}, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": {{Image}}, "patch_size": {{Patch}}, "num_channels": 3}"""
        : $$$"""{"model_type": "clip", "projection_dim": {{{Outputs}}}, "vision_config": {"hidden_size": {{{Dim}}}, "num_hidden_layers": {{{Layers}}}, "num_attention_heads": {{{Heads}}}, "intermediate_size": {{{Mlp}}}, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "image_size": {{{Image}}}, "patch_size": {{{Patch}}}}}""";

    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/>.</summary>
    public void WriteCheckpoint(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson);
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
            [.. _weights.Select(w => WeightTensor.FromValues(w.Hf, w.Shape.Select(x => (long)x).ToArray(), w.Values))]);
    }

    /// <summary>The same network for a batch of <paramref name="batch"/> as an ONNX model: input "pixels" [B, 3, H, W],
    /// output "y" [B, outputs] (ViT logits; CLIP's projected, unnormalised image features). With <paramref name="int8"/>
    /// every linear is what ONNX Runtime's <c>quantize_dynamic</c> (weight_type QInt8, per_channel) leaves after its
    /// graph optimiser fuses DynamicQuantizeLinear + MatMulInteger + the scale Mul: com.microsoft DynamicQuantizeMatMul
    /// with the weight as int8 [in, out], symmetric, one f32 scale per output column, and the bias fused; activations
    /// are quantized to uint8 per tensor on every run.</summary>
    public byte[] Onnx(int batch, bool int8 = false)
    {
        var g = new OnnxModelBuilder.Proto();
        var inits = new List<OnnxModelBuilder.Proto>();
        int node = 0, d = Dim, n = Tokens - 1;
        string Node(string op, string[] inputs, params byte[][] attributes)
        {
            string output = $"t{node++}";
            var p = new OnnxModelBuilder.Proto();
            foreach (var i in inputs) p.Str(1, i);
            p.Str(2, output).Str(3, output).Str(4, op);
            foreach (var a in attributes) p.Bytes(5, a);
            if (op is "MultiHeadAttention" or "Gelu" or "QuickGelu" or "DynamicQuantizeMatMul") p.Str(7, "com.microsoft");
            g.Msg(1, p);
            return output;
        }
        string Init(string name, float[] values, params int[] dims) => Raw(name, OnnxModelBuilder.Float, MemoryBytes(values), dims);
        string Raw(string name, int type, byte[] raw, params int[] dims)
        {
            var t = new OnnxModelBuilder.Proto();
            foreach (int x in dims) t.Varint(1, x);
            inits.Add(t.Varint(2, type).Str(8, name).Bytes(9, raw));
            return name;
        }
        string Get(string hf) => Init(hf, Find(hf).Values, Find(hf).Shape);
        string LinearIn(string hf, int inF, int outF) => Init(hf + ".weight.T", Transpose(Find(hf + ".weight").Values, outF, inF), inF, outF);
        string Linear(string x, string hf, int inF, int outF, bool bias = true)
        {
            if (int8)
            {
                var (q, scales) = QuantizeColumns(Transpose(Find(hf + ".weight").Values, outF, inF), inF, outF);
                string w = Raw(hf + ".weight.T.int8", OnnxModelBuilder.Int8, (byte[])(Array)q, inF, outF);
                string s = Init(hf + ".weight.scale", scales, outF);
                return Node("DynamicQuantizeMatMul", bias ? [x, w, s, "", Get(hf + ".bias")] : [x, w, s]);
            }
            string y = Node("MatMul", [x, LinearIn(hf, inF, outF)]);
            return bias ? Node("Add", [y, Get(hf + ".bias")]) : y;
        }
        string LayerNorm(string x, string hf) => Node("LayerNormalization", [x, Get(hf + ".weight"), Get(hf + ".bias")], IntAttr("axis", -1), FloatAttr("epsilon", Eps));

        string embedW = Kind == "vit" ? "vit.embeddings.patch_embeddings.projection.weight" : "vision_model.embeddings.patch_embedding.weight";
        string[] convIn = Kind == "vit" ? ["pixels", Get(embedW), Get("vit.embeddings.patch_embeddings.projection.bias")] : ["pixels", Get(embedW)];
        string conv = Node("Conv", convIn, IntsAttr("kernel_shape", Patch, Patch), IntsAttr("strides", Patch, Patch));
        string flat = Node("Reshape", [conv, Raw("shape_bdn", 7, LongBytes(batch, d, n), 3)]);
        string patches = Node("Transpose", [flat], IntsAttr("perm", 0, 2, 1));
        var cls = Find(Kind == "vit" ? "vit.embeddings.cls_token" : "vision_model.embeddings.class_embedding").Values;
        string clsB = Init("cls_batch", [.. Enumerable.Range(0, batch).SelectMany(_ => cls)], batch, 1, d);
        string tokens = Node("Concat", [clsB, patches], IntAttr("axis", 1));
        var pos = Find(Kind == "vit" ? "vit.embeddings.position_embeddings" : "vision_model.embeddings.position_embedding.weight");
        string x = Node("Add", [tokens, Init("pos", pos.Values, 1, Tokens, d)]);
        if (Kind == "clip") x = LayerNorm(x, "vision_model.pre_layrnorm");
        for (int i = 0; i < Layers; i++)
        {
            var nm = Names(i);
            string h = LayerNorm(x, nm.Ln1);
            string a = Node("MultiHeadAttention", [Linear(h, nm.Q, d, d), Linear(h, nm.K, d, d), Linear(h, nm.V, d, d)], IntAttr("num_heads", Heads));
            x = Node("Add", [x, Linear(a, nm.O, d, d)]);
            h = LayerNorm(x, nm.Ln2);
            string f = Node(Kind == "vit" ? "Gelu" : "QuickGelu", [Linear(h, nm.Fc1, d, Mlp)]);
            x = Node("Add", [x, Linear(f, nm.Fc2, Mlp, d)]);
        }
        string index0 = Raw("index0", 7, LongBytes(0));
        string y;
        if (Kind == "vit")
        {
            string normed = LayerNorm(x, "vit.layernorm");
            y = Linear(Node("Gather", [normed, index0], IntAttr("axis", 1)), "classifier", d, Outputs);
        }
        else
        {
            string pooled = LayerNorm(Node("Gather", [x, index0], IntAttr("axis", 1)), "vision_model.post_layernorm");
            y = Linear(pooled, "visual_projection", d, Outputs, bias: false);
        }
        g.Msg(1, new OnnxModelBuilder.Proto().Str(1, y).Str(2, "y").Str(3, "out").Str(4, "Identity"));
        g.Str(2, "tower");
        foreach (var i in inits) g.Msg(5, i);
        g.Msg(11, OnnxModelBuilder.ValueInfo("pixels", batch, 3, Image, Image)).Msg(12, OnnxModelBuilder.ValueInfo("y", batch, Outputs));
        var opset = new OnnxModelBuilder.Proto().Str(1, "").Varint(2, 17);
        var ms = new OnnxModelBuilder.Proto().Str(1, "com.microsoft").Varint(2, 1);
        return new OnnxModelBuilder.Proto().Varint(1, 8).Msg(7, g).Msg(8, opset).Msg(8, ms).ToArray();
    }

    private (string Hf, float[] Values, int[] Shape) Find(string hf) => _weights.First(w => w.Hf == hf);

    private void W(string name, float scale, params int[] shape)
    {
        var v = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * scale);
        _weights.Add((name, v, shape));
    }

    private void Norm(string prefix)
    {
        W(prefix + ".weight", 0.1f, Dim);
        var g = _weights[^1].Values;
        for (int i = 0; i < g.Length; i++) g[i] += 1;
        W(prefix + ".bias", 0.05f, Dim);
    }

    private void Linear(string prefix, int inF, int outF)
    {
        W(prefix + ".weight", 1 / MathF.Sqrt(inF), outF, inF);
        W(prefix + ".bias", 0.02f, outF);
    }

    // w [rows, cols] to int8 with one symmetric scale per column (max |w| / 127), as quantize_dynamic's per_channel.
    private static (sbyte[] Q, float[] Scales) QuantizeColumns(float[] w, int rows, int cols)
    {
        var scales = new float[cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) scales[c] = Math.Max(scales[c], Math.Abs(w[r * cols + c]) / 127f);
        var q = new sbyte[w.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                q[r * cols + c] = scales[c] == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(w[r * cols + c] / scales[c]), -127, 127);
        return (q, scales);
    }

    private static float[] Transpose(float[] w, int rows, int cols)
    {
        var t = new float[w.Length];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
        return t;
    }

    private static byte[] MemoryBytes(float[] v)
    {
        var b = new byte[v.Length * 4];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    private static byte[] LongBytes(params long[] v)
    {
        var b = new byte[v.Length * 8];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }
}
