using System.Runtime.InteropServices;
using Tessera.Bench.Onnx;
using static Tessera.Bench.Onnx.OnnxAttributes;
using Tessera.Formats;
using Tessera.Formats.Safetensors;

namespace Tessera.Bench;

/// <summary>A DiT with random weights (DiT-XL/2 or DiT-B/2 at 256x256: 4 latent channels, learned sigma, 1000 classes
/// plus the null class), written twice: as an original facebookresearch state dict (safetensors under x_embedder,
/// t_embedder, y_embedder, pos_embed, blocks.{i}, final_layer: what Tessera's DitOriginal reads) and as an ONNX graph
/// of the same network for ONNX Runtime (opset 17 plus com.microsoft MultiHeadAttention and FastGelu; weights as
/// external data, [in, out] for MatMul). Each tensor's values come from its own seeded stream, so neither file is
/// held in memory whole (DiT-XL/2 is 2.7 GB of f32).</summary>
internal sealed class PeerDitNetwork
{
    public string Name { get; }
    public int Dim { get; }
    public int Depth { get; }
    public int Heads { get; }
    public int Patch => 2;
    public int InChannels => 4;
    public int OutChannels => 8;
    public int LatentSide => 32;
    public int Classes => 1000;
    public int Grid => LatentSide / Patch;
    public int Tokens => Grid * Grid;

    private readonly List<(string Name, int[] Shape, float Bound)> _tensors = [];

    public PeerDitNetwork(string name)
    {
        Name = name;
        (Depth, Dim, Heads) = name switch
        {
            "xl" or "dit-xl-2" => (28, 1152, 16),
            "l" or "dit-l-2" => (24, 1024, 16),
            "b" or "dit-b-2" => (12, 768, 12),
            "s" or "dit-s-2" => (12, 384, 6),
            _ => throw new ArgumentException($"unknown DiT '{name}' (xl, l, b, s)"),
        };
        int d = Dim;
        Add("x_embedder.proj.weight", 1 / MathF.Sqrt(InChannels * Patch * Patch), d, InChannels, Patch, Patch);
        Add("x_embedder.proj.bias", 0.02f, d);
        Add("pos_embed", 1f, 1, Tokens, d);
        Linear("t_embedder.mlp.0", 256, d);
        Linear("t_embedder.mlp.2", d, d);
        Add("y_embedder.embedding_table.weight", 1f, Classes + 1, d);
        for (int i = 0; i < Depth; i++)
        {
            Linear($"blocks.{i}.attn.qkv", d, 3 * d);
            Linear($"blocks.{i}.attn.proj", d, d);
            Linear($"blocks.{i}.mlp.fc1", d, 4 * d);
            Linear($"blocks.{i}.mlp.fc2", 4 * d, d);
            Linear($"blocks.{i}.adaLN_modulation.1", d, 6 * d, scale: 0.2f);
        }
        Linear("final_layer.linear", d, Patch * Patch * OutChannels);
        Linear("final_layer.adaLN_modulation.1", d, 2 * d, scale: 0.2f);
    }

    private void Add(string name, float bound, params int[] shape) => _tensors.Add((name, shape, bound));

    // Small modulation weights keep 28 blocks of random gates from blowing the activations up.
    private void Linear(string name, int inF, int outF, float scale = 1)
    {
        Add(name + ".weight", scale / MathF.Sqrt(inF), outF, inF);
        Add(name + ".bias", 0.02f, outF);
    }

    private float[] Values(string name)
    {
        int index = _tensors.FindIndex(t => t.Name == name);
        var (_, shape, bound) = _tensors[index];
        var v = new float[shape.Aggregate(1L, (a, b) => a * b)];
        ulong s = 0x9E3779B97F4A7C15UL * (ulong)(index + 1) | 1;
        for (int i = 0; i < v.Length; i++)
        {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;                                  // xorshift64
            v[i] = (float)(((s >> 11) * (1.0 / (1UL << 53)) * 2 - 1) * bound);
        }
        return v;
    }

    /// <summary>Writes the checkpoint as Tessera reads it (original DiT names).</summary>
    public void WriteCheckpoint(string path) => SafetensorsWriter.Write(path,
        [.. _tensors.Select(t => new WeightTensor(t.Name, DType.F32, t.Shape.Select(x => (long)x).ToArray(), () => Bytes(Values(t.Name))))]);

    private static byte[] Bytes(float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    /// <summary>Writes <paramref name="dir"/>/dit.onnx and its external data dit.weights for a batch of
    /// <paramref name="batch"/>: inputs "x" [B, 4, 32, 32], "t" [B] (f32), "y" [B] (i64); output "out" [B, 8, 32, 32].</summary>
    public string WriteOnnx(string dir, int batch)
    {
        string onnxPath = Path.Combine(dir, $"dit-{Name}-b{batch}.onnx"), dataName = $"dit-{Name}-b{batch}.weights";
        using var data = File.Create(Path.Combine(dir, dataName));
        var g = new OnnxModelBuilder.Proto();
        var inits = new List<OnnxModelBuilder.Proto>();
        int node = 0, d = Dim, n = Tokens, b = batch;
        string[] NodeN(string op, string[] inputs, int outputs, params byte[][] attributes)
        {
            var outs = Enumerable.Range(0, outputs).Select(_ => $"t{node++}").ToArray();
            var p = new OnnxModelBuilder.Proto();
            foreach (var i in inputs) p.Str(1, i);
            foreach (var o in outs) p.Str(2, o);
            p.Str(3, outs[0]).Str(4, op);
            foreach (var a in attributes) p.Bytes(5, a);
            if (op is "MultiHeadAttention" or "FastGelu") p.Str(7, "com.microsoft");
            g.Msg(1, p);
            return outs;
        }
        string Node(string op, string[] inputs, params byte[][] attributes) => NodeN(op, inputs, 1, attributes)[0];
        string External(string name, int type, byte[] raw, params int[] dims)
        {
            var t = new OnnxModelBuilder.Proto();
            foreach (int x in dims) t.Varint(1, x);
            t.Varint(2, type).Str(8, name);
            if (raw.Length <= 4096)
            {
                inits.Add(t.Bytes(9, raw));                                            // shapes and small tables inline: shape inference reads them
                return name;
            }
            t.Msg(13, new OnnxModelBuilder.Proto().Str(1, "location").Str(2, dataName));
            t.Msg(13, new OnnxModelBuilder.Proto().Str(1, "offset").Str(2, data.Position.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            t.Msg(13, new OnnxModelBuilder.Proto().Str(1, "length").Str(2, raw.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            t.Varint(14, 1);                                                           // data_location = EXTERNAL
            data.Write(raw);
            while (data.Position % 64 != 0) data.WriteByte(0);
            inits.Add(t);
            return name;
        }
        string Floats(string name, float[] v, params int[] dims) => External(name, OnnxModelBuilder.Float, Bytes(v), dims);
        string Longs(string name, params long[] v) => External(name, 7, MemoryMarshal.AsBytes(v.AsSpan()).ToArray(), v.Length);
        string Get(string name) => Floats(name, Values(name), _tensors.First(t => t.Name == name).Shape);
        string Linear(string x, string name, int inF, int outF)
        {
            var w = Values(name + ".weight");
            var wt = new float[w.Length];
            for (int r = 0; r < outF; r++) for (int c = 0; c < inF; c++) wt[(long)c * outF + r] = w[(long)r * inF + c];
            string y = Node("MatMul", [x, Floats(name + ".weight.T", wt, inF, outF)]);
            return Node("Add", [y, Get(name + ".bias")]);
        }
        string Silu(string x) => Node("Mul", [x, Node("Sigmoid", [x])]);
        string ones = Floats("ones", Enumerable.Repeat(1f, d).ToArray(), d), zeros = Floats("zeros", new float[d], d);
        string one = Floats("one", [1f], 1), axis1 = Longs("axis1", 1);
        string Modulate(string x, string shift, string scale)
        {
            string normed = Node("LayerNormalization", [x, ones, zeros], IntAttr("axis", -1), FloatAttr("epsilon", 1e-6f));
            return Node("Add", [Node("Mul", [normed, Node("Add", [scale, one])]), shift]);
        }
        string[] Chunks(string c, string name, int count)
        {
            string m = Linear(c, name, d, count * d);
            var parts = NodeN("Split", [m, Longs(name + ".split", [.. Enumerable.Repeat((long)d, count)])], count, IntAttr("axis", 1));
            return [.. parts.Select(p => Node("Unsqueeze", [p, axis1]))];                  // [B, 1, D]
        }

        // Patchify + positions.
        string conv = Node("Conv", ["x", Get("x_embedder.proj.weight"), Get("x_embedder.proj.bias")], IntsAttr("kernel_shape", Patch, Patch), IntsAttr("strides", Patch, Patch));
        string tokens = Node("Transpose", [Node("Reshape", [conv, Longs("shape_bdn", b, d, n)])], IntsAttr("perm", 0, 2, 1));
        string h = Node("Add", [tokens, Get("pos_embed")]);
        // c = t_embedder(t) + y_embedder(y): 128 frequencies exp(-ln(10^4) i / 128), cos first.
        var freqs = Enumerable.Range(0, 128).Select(i => (float)Math.Exp(-Math.Log(10000) * i / 128)).ToArray();
        string args = Node("Mul", [Node("Reshape", ["t", Longs("shape_b1", b, 1)]), Floats("freqs", freqs, 1, 128)]);
        string tf = Node("Concat", [Node("Cos", [args]), Node("Sin", [args])], IntAttr("axis", 1));
        string temb = Linear(Silu(Linear(tf, "t_embedder.mlp.0", 256, d)), "t_embedder.mlp.2", d, d);
        string yemb = Node("Gather", [Get("y_embedder.embedding_table.weight"), "y"], IntAttr("axis", 0));
        string cs = Silu(Node("Add", [temb, yemb]));
        for (int i = 0; i < Depth; i++)
        {
            string p = $"blocks.{i}.";
            var m = Chunks(cs, p + "adaLN_modulation.1", 6);
            string a = Modulate(h, m[0], m[1]);
            var qkv = NodeN("Split", [Linear(a, p + "attn.qkv", d, 3 * d), Longs(p + "qkv.split", d, d, d)], 3, IntAttr("axis", 2));
            string att = Linear(Node("MultiHeadAttention", qkv, IntAttr("num_heads", Heads)), p + "attn.proj", d, d);
            h = Node("Add", [h, Node("Mul", [m[2], att])]);
            string f = Modulate(h, m[3], m[4]);
            string mlp = Linear(Node("FastGelu", [Linear(f, p + "mlp.fc1", d, 4 * d)]), p + "mlp.fc2", 4 * d, d);
            h = Node("Add", [h, Node("Mul", [m[5], mlp])]);
        }
        var fm = Chunks(cs, "final_layer.adaLN_modulation.1", 2);
        string y = Linear(Modulate(h, fm[0], fm[1]), "final_layer.linear", d, Patch * Patch * OutChannels);
        string grid = Node("Reshape", [y, Longs("shape_grid", b, Grid, Grid, Patch, Patch, OutChannels)]);
        string nchw = Node("Transpose", [grid], IntsAttr("perm", 0, 5, 1, 3, 2, 4));
        string output = Node("Reshape", [nchw, Longs("shape_out", b, OutChannels, LatentSide, LatentSide)]);
        g.Msg(1, new OnnxModelBuilder.Proto().Str(1, output).Str(2, "out").Str(3, "out").Str(4, "Identity"));
        g.Str(2, "dit");
        foreach (var i in inits) g.Msg(5, i);
        g.Msg(11, OnnxModelBuilder.ValueInfo("x", b, InChannels, LatentSide, LatentSide))
         .Msg(11, ValueInfo("t", OnnxModelBuilder.Float, b))
         .Msg(11, ValueInfo("y", 7, b))
         .Msg(12, OnnxModelBuilder.ValueInfo("out", b, OutChannels, LatentSide, LatentSide));
        var opset = new OnnxModelBuilder.Proto().Str(1, "").Varint(2, 17);
        var ms = new OnnxModelBuilder.Proto().Str(1, "com.microsoft").Varint(2, 1);
        File.WriteAllBytes(onnxPath, new OnnxModelBuilder.Proto().Varint(1, 8).Msg(7, g).Msg(8, opset).Msg(8, ms).ToArray());
        return onnxPath;
    }

    // ValueInfoProto { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 } } } } }.
    private static OnnxModelBuilder.Proto ValueInfo(string name, int elemType, params long[] dims)
    {
        var shape = new OnnxModelBuilder.Proto();
        foreach (var x in dims) shape.Msg(1, new OnnxModelBuilder.Proto().Varint(1, x));
        var tensor = new OnnxModelBuilder.Proto().Varint(1, elemType).Msg(2, shape);
        return new OnnxModelBuilder.Proto().Str(1, name).Msg(2, new OnnxModelBuilder.Proto().Msg(1, tensor));
    }
}
