using System.Text;

namespace Tessera.Models.Tests;

/// <summary>Writes just enough protobuf for small ONNX graphs that ONNX Runtime runs as an oracle: nodes with int,
/// float, string and int-list attributes, float and int64 initializers with raw data, and typed graph inputs and
/// outputs. (The wire-format helpers are those of tests/Tessera.Formats.Tests/OnnxBuilder.cs.)</summary>
internal sealed class OnnxBuilder
{
    private readonly MemoryStream _graph = new();

    public void Node(string op, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new MemoryStream();
        foreach (var i in inputs) Bytes(node, 1, Encoding.UTF8.GetBytes(i));
        foreach (var o in outputs) Bytes(node, 2, Encoding.UTF8.GetBytes(o));
        Bytes(node, 4, Encoding.UTF8.GetBytes(op));
        foreach (var (name, value) in attributes)
        {
            var a = new MemoryStream();
            Bytes(a, 1, Encoding.UTF8.GetBytes(name));
            switch (value)
            {
                case int v: Varint(a, 3 << 3); Varint(a, (ulong)v); Varint(a, 20 << 3); Varint(a, 2); break;
                case float v: Varint(a, 2 << 3 | 5); a.Write(BitConverter.GetBytes(v)); Varint(a, 20 << 3); Varint(a, 1); break;
                case string v: Bytes(a, 4, Encoding.UTF8.GetBytes(v)); Varint(a, 20 << 3); Varint(a, 3); break;
                case int[] v: foreach (int x in v) { Varint(a, 8 << 3); Varint(a, (ulong)(long)x); } Varint(a, 20 << 3); Varint(a, 7); break;
                default: throw new ArgumentException($"attribute {name}: {value.GetType().Name}");
            }
            Bytes(node, 5, a.ToArray());
        }
        Bytes(_graph, 1, node.ToArray());
    }

    public void Float(string name, int[] dims, float[] values) =>
        Bytes(_graph, 5, Tensor(name, 1, dims, values.SelectMany(BitConverter.GetBytes).ToArray()));

    public void Int64(string name, long[] values) =>
        Bytes(_graph, 5, Tensor(name, 7, [values.Length], values.SelectMany(BitConverter.GetBytes).ToArray()));

    /// <summary>A float graph input or output; a dim of -1 is symbolic.</summary>
    public void Input(string name, params int[] dims) => Bytes(_graph, 11, ValueInfo(name, dims));

    public void Output(string name, params int[] dims) => Bytes(_graph, 12, ValueInfo(name, dims));

    public byte[] Model(int opset = 17)
    {
        var model = new MemoryStream();
        Varint(model, 1 << 3); Varint(model, 8);                 // ir_version
        Bytes(model, 2, Encoding.UTF8.GetBytes("tessera-tests"));
        var g = new MemoryStream();
        g.Write(_graph.ToArray());
        Bytes(g, 2, Encoding.UTF8.GetBytes("g"));
        Bytes(model, 7, g.ToArray());
        var op = new MemoryStream();
        Varint(op, 2 << 3); Varint(op, (ulong)opset);
        Bytes(model, 8, op.ToArray());
        return model.ToArray();
    }

    private static byte[] Tensor(string name, int type, int[] dims, byte[] raw)
    {
        var t = new MemoryStream();
        foreach (int d in dims) { Varint(t, 1 << 3); Varint(t, (ulong)d); }
        Varint(t, 2 << 3); Varint(t, (ulong)type);
        Bytes(t, 8, Encoding.UTF8.GetBytes(name));
        Bytes(t, 9, raw);
        return t.ToArray();
    }

    private static byte[] ValueInfo(string name, int[] dims)
    {
        var shape = new MemoryStream();
        foreach (int d in dims)
        {
            var dim = new MemoryStream();
            if (d >= 0) { Varint(dim, 1 << 3); Varint(dim, (ulong)d); }
            else Bytes(dim, 2, Encoding.UTF8.GetBytes($"d{shape.Length}"));
            Bytes(shape, 1, dim.ToArray());
        }
        var tensor = new MemoryStream();
        Varint(tensor, 1 << 3); Varint(tensor, 1); // elem_type FLOAT
        Bytes(tensor, 2, shape.ToArray());
        var type = new MemoryStream();
        Bytes(type, 1, tensor.ToArray());
        var vi = new MemoryStream();
        Bytes(vi, 1, Encoding.UTF8.GetBytes(name));
        Bytes(vi, 2, type.ToArray());
        return vi.ToArray();
    }

    private static void Bytes(Stream s, int field, byte[] b)
    {
        Varint(s, (ulong)(field << 3 | 2));
        Varint(s, (ulong)b.Length);
        s.Write(b);
    }

    private static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
