namespace Tessera.Formats.Onnx;

/// <summary>One attribute of an ONNX node: whichever of the scalar and list fields the protobuf holds.</summary>
/// <param name="Name">The attribute's name.</param>
/// <param name="Int">The <c>i</c> field, when present.</param>
/// <param name="Float">The <c>f</c> field, when present.</param>
/// <param name="String">The <c>s</c> field as UTF-8 text, when present.</param>
/// <param name="Ints">The <c>ints</c> list (empty when absent).</param>
/// <param name="Floats">The <c>floats</c> list (empty when absent).</param>
/// <param name="Strings">The <c>strings</c> list (empty when absent).</param>
public sealed record OnnxAttribute(string Name, long? Int, float? Float, string? String,
    IReadOnlyList<long> Ints, IReadOnlyList<float> Floats, IReadOnlyList<string> Strings);

/// <summary>One node of an ONNX graph: its operator, input and output names (an empty name is an omitted optional
/// input) and attributes by name.</summary>
/// <param name="OpType">The operator ("LSTM", "Conv").</param>
/// <param name="Inputs">Input value names in the operator's order.</param>
/// <param name="Outputs">Output value names.</param>
/// <param name="Attributes">Attributes by name.</param>
public sealed record OnnxNode(string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes);

/// <summary>The structure of an ONNX model's main graph (nodes, graph input and output names), and single
/// TensorProto files as the ONNX test suites store their inputs and outputs (<c>input_0.pb</c>). What the ONNX node
/// tests need to drive Tessera's ops; weights are read by <see cref="OnnxFile"/>.</summary>
public sealed record OnnxGraph(IReadOnlyList<OnnxNode> Nodes, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs)
{
    /// <summary>Reads the main graph of an .onnx file.</summary>
    public static OnnxGraph Read(string path)
    {
        var data = File.ReadAllBytes(path);
        var r = new ProtoReader(data, path, 0);
        OnnxGraph? graph = null;
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 7 && w == 2) graph = ReadGraph(r.Message(out _));
            else r.Skip(w);
        }
        return graph ?? throw new WeightFormatException(path, null, "no graph in the model");
    }

    /// <summary>Reads a file holding one serialized TensorProto into a new tensor on <paramref name="backend"/>.</summary>
    public static Tensor LoadTensor(string path, IBackend backend)
    {
        var data = File.ReadAllBytes(path);
        var dims = new List<long>();
        int type = 0;
        string name = System.IO.Path.GetFileName(path);
        var r = new ProtoReader(data, path, 0);
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 0) dims.Add((long)r.Varint());
            else if (f == 1 && w == 2) { var p = r.Message(out _); while (!p.End) dims.Add((long)p.Varint()); }
            else if (f == 2 && w == 0) type = (int)Math.Min(r.Varint(), int.MaxValue);
            else r.Skip(w);
        }
        var (typeName, size, dtype) = OnnxTypes.Of(type);
        if (dtype is not { } dt) throw new WeightFormatException(path, name, $"element type {typeName} cannot be loaded");
        long count = WeightLoading.ElementCount(path, name, dims.ToArray());
        var bytes = OnnxTypes.Decode(new ProtoReader(data, path, 0), path, name, type, count * size);
        var shape = new Shape([.. dims.Select(d => checked((int)d))]);
        var t = Tensor.Zeros(backend, dt, shape);
        backend.CopyFromHost(bytes, t.Storage, 0);
        return t;
    }

    private static OnnxGraph ReadGraph(ProtoReader r)
    {
        var nodes = new List<OnnxNode>();
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 2) nodes.Add(ReadNode(r.Message(out _)));
            else if (f is 11 or 12 && w == 2) (f == 11 ? inputs : outputs).Add(ValueInfoName(r.Message(out _)));
            else r.Skip(w);
        }
        return new OnnxGraph(nodes, inputs, outputs);
    }

    private static string ValueInfoName(ProtoReader r)
    {
        string name = "";
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 2) name = r.String();
            else r.Skip(w);
        }
        return name;
    }

    private static OnnxNode ReadNode(ProtoReader r)
    {
        string op = "";
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attrs = new Dictionary<string, OnnxAttribute>();
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 2) inputs.Add(r.String());
            else if (f == 2 && w == 2) outputs.Add(r.String());
            else if (f == 4 && w == 2) op = r.String();
            else if (f == 5 && w == 2) { var a = ReadAttribute(r.Message(out _)); attrs[a.Name] = a; }
            else r.Skip(w);
        }
        return new OnnxNode(op, inputs, outputs, attrs);
    }

    // AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9 (lists packed or not).
    private static OnnxAttribute ReadAttribute(ProtoReader r)
    {
        string name = "";
        long? i = null;
        float? fl = null;
        string? s = null;
        var ints = new List<long>();
        var floats = new List<float>();
        var strings = new List<string>();
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 2) name = r.String();
            else if (f == 2 && w == 5) fl = BitConverter.UInt32BitsToSingle(r.Fixed32());
            else if (f == 3 && w == 0) i = (long)r.Varint();
            else if (f == 4 && w == 2) s = r.String();
            else if (f == 7 && w == 5) floats.Add(BitConverter.UInt32BitsToSingle(r.Fixed32()));
            else if (f == 7 && w == 2) { var p = r.Message(out _); while (!p.End) floats.Add(BitConverter.UInt32BitsToSingle(p.Fixed32())); }
            else if (f == 8 && w == 0) ints.Add((long)r.Varint());
            else if (f == 8 && w == 2) { var p = r.Message(out _); while (!p.End) ints.Add((long)p.Varint()); }
            else if (f == 9 && w == 2) strings.Add(r.String());
            else r.Skip(w);
        }
        return new OnnxAttribute(name, i, fl, s, ints, floats, strings);
    }
}
