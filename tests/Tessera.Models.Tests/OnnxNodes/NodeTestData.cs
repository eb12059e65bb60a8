using Tessera.Formats.Onnx;

namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>ONNX's own node tests as Debian's libonnx-testdata ships them: data/node/test_*/model.onnx (one node, or
/// for the "_expanded" cases the node's function body) with test_data_set_0/input_N.pb and output_N.pb, serialized
/// TensorProtos numbered as the graph's inputs and outputs.</summary>
public static class NodeTestData
{
    /// <summary>Where the package puts the node tests.</summary>
    public const string Root = "/usr/share/libonnx-testdata/data/node";

    /// <summary>Why the suite cannot run here, or null when the data is present.</summary>
    public static string? Missing => Directory.Exists(Root) ? null
        : $"{Root} is missing: install Debian's libonnx-testdata (apt-get install libonnx-testdata), as .ci/run does";

    /// <summary>Every test directory name, sorted (empty when the package is absent).</summary>
    public static IReadOnlyList<string> Names { get; } = Directory.Exists(Root)
        ? [.. Directory.GetDirectories(Root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)]
        : [];

    /// <summary>The default-domain opset a model imports (ModelProto.opset_import, field 8: OperatorSetIdProto with
    /// domain 1 and version 2). OnnxGraph does not keep it, and the node tests need it: Softmax, Split, Squeeze and the
    /// reductions changed their meaning across opsets.</summary>
    public static int Opset(string modelPath)
    {
        var b = File.ReadAllBytes(modelPath);
        int opset = 0, i = 0;
        while (i < b.Length)
        {
            ulong tag = Varint(b, ref i);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (wire == 0) { Varint(b, ref i); continue; }
            if (wire == 1) { i += 8; continue; }
            if (wire == 5) { i += 4; continue; }
            if (wire != 2) throw new InvalidDataException($"{modelPath}: wire type {wire} at byte {i}");
            int len = checked((int)Varint(b, ref i)), end = checked(i + len);
            if (field == 8)
            {
                string domain = "";
                long version = 0;
                while (i < end)
                {
                    ulong t = Varint(b, ref i);
                    if (t == (1 << 3 | 2)) { int n = (int)Varint(b, ref i); domain = System.Text.Encoding.UTF8.GetString(b, i, n); i += n; }
                    else if (t == (2 << 3 | 0)) version = (long)Varint(b, ref i);
                    else throw new InvalidDataException($"{modelPath}: unexpected field in opset_import");
                }
                if (domain is "" or "ai.onnx") opset = (int)version;
            }
            i = end;
        }
        return opset;
    }

    private static ulong Varint(byte[] b, ref int i)
    {
        ulong r = 0;
        for (int s = 0; s < 64; s += 7)
        {
            byte c = b[i++];
            r |= (ulong)(c & 0x7f) << s;
            if (c < 0x80) return r;
        }
        throw new InvalidDataException("varint longer than 10 bytes");
    }

    /// <summary>The operator a case is counted under: the node's type, or for a multi-node graph the type of its
    /// single-node sibling (test_softmax_axis_0_expanded -> "Softmax (expanded)").</summary>
    public static string Operator(string name, OnnxGraph graph)
    {
        if (graph.Nodes.Count == 1) return graph.Nodes[0].OpType;
        const string suffix = "_expanded";
        if (name.EndsWith(suffix, StringComparison.Ordinal))
        {
            string sibling = Path.Combine(Root, name[..^suffix.Length], "model.onnx");
            if (File.Exists(sibling) && OnnxGraph.Read(sibling) is { Nodes.Count: 1 } g) return g.Nodes[0].OpType + " (expanded)";
        }
        return $"({string.Join("+", graph.Nodes.Select(n => n.OpType).Distinct())})";
    }
}
