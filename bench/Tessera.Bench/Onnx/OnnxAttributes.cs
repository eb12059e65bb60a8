namespace Tessera.Bench.Onnx;

/// <summary>Encoded ONNX AttributeProto messages for the graphs the peer benchmarks build.
/// AttributeProto: name = 1, f = 2 (fixed32), i = 3, s = 4, ints = 8, type = 20 (FLOAT 1, INT 2, STRING 3, INTS 7).</summary>
internal static class OnnxAttributes
{
    public static byte[] IntAttr(string name, long v) => new OnnxModelBuilder.Proto().Str(1, name).Varint(3, v).Varint(20, 2).ToArray();

    public static byte[] StrAttr(string name, string v) => new OnnxModelBuilder.Proto().Str(1, name).Str(4, v).Varint(20, 3).ToArray();

    public static byte[] IntsAttr(string name, params long[] v)
    {
        var p = new OnnxModelBuilder.Proto().Str(1, name);
        foreach (var x in v) p.Varint(8, x);
        return p.Varint(20, 7).ToArray();
    }

    public static byte[] FloatAttr(string name, float v)
    {
        var head = new OnnxModelBuilder.Proto().Str(1, name).ToArray();
        var tail = new OnnxModelBuilder.Proto().Varint(20, 1).ToArray();
        return [.. head, 0x15, .. BitConverter.GetBytes(v), .. tail];   // field 2, wire type 5 (fixed32)
    }
}
