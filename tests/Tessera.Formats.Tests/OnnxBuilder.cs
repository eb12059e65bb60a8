using System.Text;

namespace Tessera.Formats.Tests;

/// <summary>Writes just enough protobuf to make small ONNX models for the tests: a ModelProto with a graph of
/// initializers and Constant nodes.</summary>
internal static class OnnxBuilder
{
    public static byte[] Model(IEnumerable<byte[]> initializers, IEnumerable<(string Output, byte[] Tensor)> constants)
    {
        var graph = new MemoryStream();
        foreach (var (output, tensor) in constants)
        {
            var attr = new MemoryStream();
            Bytes(attr, 1, Encoding.UTF8.GetBytes("value"));
            Bytes(attr, 5, tensor);
            var node = new MemoryStream();
            Bytes(node, 2, Encoding.UTF8.GetBytes(output));
            Bytes(node, 4, Encoding.UTF8.GetBytes("Constant"));
            Bytes(node, 5, attr.ToArray());
            Bytes(graph, 1, node.ToArray());
        }
        foreach (var init in initializers) Bytes(graph, 5, init);
        var model = new MemoryStream();
        Varint(model, 1 << 3 | 0); Varint(model, 8);           // ir_version = 8
        Bytes(model, 2, Encoding.UTF8.GetBytes("tessera-tests")); // producer_name
        Bytes(model, 7, graph.ToArray());
        var opset = new MemoryStream();
        Varint(opset, 2 << 3 | 0); Varint(opset, 17);
        Bytes(model, 8, opset.ToArray());
        return model.ToArray();
    }

    /// <summary>A TensorProto with raw_data.</summary>
    public static byte[] RawTensor(string name, int dataType, long[] dims, byte[] raw)
    {
        var t = new MemoryStream();
        foreach (long d in dims) { Varint(t, 1 << 3 | 0); Varint(t, (ulong)d); }
        Varint(t, 2 << 3 | 0); Varint(t, (ulong)dataType);
        Bytes(t, 8, Encoding.UTF8.GetBytes(name));
        Bytes(t, 9, raw);
        return t.ToArray();
    }

    /// <summary>A FLOAT TensorProto with packed float_data and packed dims.</summary>
    public static byte[] FloatTensor(string name, long[] dims, float[] values)
    {
        var t = new MemoryStream();
        var packed = new MemoryStream();
        foreach (long d in dims) Varint(packed, (ulong)d);
        Bytes(t, 1, packed.ToArray());
        Varint(t, 2 << 3 | 0); Varint(t, 1);
        Bytes(t, 4, values.SelectMany(BitConverter.GetBytes).ToArray());
        Bytes(t, 8, Encoding.UTF8.GetBytes(name));
        return t.ToArray();
    }

    /// <summary>An INT64 TensorProto with unpacked int64_data varints.</summary>
    public static byte[] Int64Tensor(string name, long[] dims, long[] values)
    {
        var t = new MemoryStream();
        foreach (long d in dims) { Varint(t, 1 << 3 | 0); Varint(t, (ulong)d); }
        Varint(t, 2 << 3 | 0); Varint(t, 7);
        foreach (long v in values) { Varint(t, 7 << 3 | 0); Varint(t, (ulong)v); }
        return t.ToArray();
    }

    /// <summary>A length-delimited protobuf field.</summary>
    internal static void Bytes(Stream s, int field, byte[] b)
    {
        Varint(s, (ulong)(field << 3 | 2));
        Varint(s, (ulong)b.Length);
        s.Write(b);
    }

    /// <summary>A protobuf varint.</summary>
    internal static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
