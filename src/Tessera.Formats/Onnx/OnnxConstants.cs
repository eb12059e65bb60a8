using System.Buffers.Binary;

namespace Tessera.Formats.Onnx;

/// <summary>A weight of an ONNX file: where its TensorProto lies (decoded on load), or the bytes of a Constant node's
/// scalar or list attribute, which has no TensorProto.</summary>
internal readonly record struct OnnxEntry(TensorInfo Info, long ProtoOffset, int ProtoLength, int DataType, byte[]? Inline = null);

/// <summary>Weights that exporters put into Constant nodes rather than initializers (paddle2onnx, torch.onnx for
/// folded parameters): a NodeProto of op_type "Constant" in the default domain whose output name names the tensor. Its
/// value is the <c>value</c> attribute's TensorProto, or <c>value_float</c> / <c>value_int</c> (scalars),
/// <c>value_floats</c> / <c>value_ints</c> (1-D); <c>value_string(s)</c> and <c>sparse_value</c> are listed but cannot
/// be loaded.</summary>
internal static class OnnxConstants
{
    private const int FloatType = 1, Int64Type = 7;

    /// <summary>Reads a NodeProto; the entry of a Constant node's value (named by the node's first output), or null for
    /// any other node.</summary>
    public static OnnxEntry? Read(ProtoReader r, string path)
    {
        string opType = "", domain = "";
        string? output = null;
        OnnxEntry? value = null;
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 4 && w == 2) opType = r.String();
            else if (f == 7 && w == 2) domain = r.String();
            else if (f == 2 && w == 2) output ??= r.String();
            else if (f == 5 && w == 2) value = ReadAttribute(r.Message(out _), path) ?? value;
            else r.Skip(w);
        }
        if (opType != "Constant" || domain is not ("" or "ai.onnx") || output is null || value is not { } v) return null;
        return v with { Info = v.Info with { Name = output } };
    }

    // AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9, sparse_tensor 22.
    private static OnnxEntry? ReadAttribute(ProtoReader a, string path)
    {
        long at = a.FileOffset;
        string name = "";
        OnnxEntry? tensor = null;
        float? f32 = null;
        long? i64 = null;
        var floats = new List<float>();
        var ints = new List<long>();
        while (!a.End)
        {
            var (f, w) = a.Tag();
            if (f == 1 && w == 2) name = a.String();
            else if (f == 2 && w == 5) f32 = BitConverter.UInt32BitsToSingle(a.Fixed32());
            else if (f == 3 && w == 0) i64 = (long)a.Varint();
            else if (f == 5 && w == 2) tensor = OnnxFile.ReadTensor(a.Message(out var b), b.Length, path, "value");
            else if (f == 7 && w == 5) floats.Add(BitConverter.UInt32BitsToSingle(a.Fixed32()));
            else if (f == 7 && w == 2) { var p = a.Message(out _); while (!p.End) floats.Add(BitConverter.UInt32BitsToSingle(p.Fixed32())); }
            else if (f == 8 && w == 0) ints.Add((long)a.Varint());
            else if (f == 8 && w == 2) { var p = a.Message(out _); while (!p.End) ints.Add((long)p.Varint()); }
            else a.Skip(w);
        }
        return name switch
        {
            "value" => tensor,
            "value_float" => Inline(path, at, FloatType, [], BitConverter.GetBytes(f32 ?? 0f)),
            "value_floats" => Inline(path, at, FloatType, [floats.Count], floats.SelectMany(BitConverter.GetBytes).ToArray()),
            "value_int" => Inline(path, at, Int64Type, [], Int64(i64 ?? 0)),
            "value_ints" => Inline(path, at, Int64Type, [ints.Count], ints.SelectMany(Int64).ToArray()),
            "value_string" or "value_strings" => Unloadable(path, at, "STRING"),
            "sparse_value" => Unloadable(path, at, "sparse tensor"),
            _ => null,
        };
    }

    private static byte[] Int64(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        return b;
    }

    private static OnnxEntry Inline(string path, long at, int type, long[] dims, byte[] bytes) =>
        new(new TensorInfo("", OnnxTypes.Of(type).Name, OnnxTypes.Of(type).DType, dims, path, at, bytes.Length), at, 0, type, bytes);

    private static OnnxEntry Unloadable(string path, long at, string typeName) =>
        new(new TensorInfo("", typeName, null, [], path, at, 0), at, 0, 0);
}
