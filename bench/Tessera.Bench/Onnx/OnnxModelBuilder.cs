using System.Text;

namespace Tessera.Bench.Onnx;

/// <summary>A minimal protobuf writer for ONNX models built in memory (field numbers from onnx/onnx.proto3:
/// ModelProto ir_version=1 graph=7 opset_import=8; OperatorSetIdProto domain=1 version=2; GraphProto node=1
/// name=2 initializer=5 input=11 output=12; NodeProto input=1 output=2 name=3 op_type=4; TensorProto dims=1
/// data_type=2 name=8 raw_data=9; ValueInfoProto name=1 type=2; TypeProto tensor_type=1; TypeProto.Tensor
/// elem_type=1 shape=2; TensorShapeProto dim=1; Dimension dim_value=1).</summary>
public static class OnnxModelBuilder
{
    /// <summary>TensorProto.DataType.FLOAT.</summary>
    public const int Float = 1;

    /// <summary>TensorProto.DataType.INT8.</summary>
    public const int Int8 = 3;

    /// <summary>Y [M, N] = MatMul(A [M, K], B), B a constant f32 initializer [K, N] (row-major).</summary>
    public static byte[] MatMul(int m, int k, int n, float[] b)
    {
        var node = new Proto().Str(1, "A").Str(1, "B").Str(2, "Y").Str(3, "matmul").Str(4, "MatMul");
        var raw = new byte[b.Length * 4];
        Buffer.BlockCopy(b, 0, raw, 0, raw.Length); // little-endian, as raw_data requires
        var init = new Proto().Varint(1, k).Varint(1, n).Varint(2, Float).Str(8, "B").Bytes(9, raw);
        var graph = new Proto().Msg(1, node).Str(2, "gemm").Msg(5, init)
            .Msg(11, ValueInfo("A", m, k)).Msg(12, ValueInfo("Y", m, n));
        var opset = new Proto().Str(1, "").Varint(2, 13);
        return new Proto().Varint(1, 8).Msg(7, graph).Msg(8, opset).ToArray();
    }

    /// <summary>Y [M, N] = com.microsoft DynamicQuantizeMatMul(A [M, K] f32, B int8 [K, N], b_scale f32 [N]): ONNX
    /// Runtime quantizes A to uint8 per tensor (asymmetric, with a zero point) on every run and multiplies with MLAS's
    /// int8 GEMM; B and its per-column scales are constant initializers (NodeProto domain = 7).</summary>
    public static byte[] DynamicQuantizeMatMul(int m, int k, int n, sbyte[] bKN, float[] bScale)
    {
        var node = new Proto().Str(1, "A").Str(1, "B").Str(1, "b_scale").Str(2, "Y").Str(3, "dqmm")
            .Str(4, "DynamicQuantizeMatMul").Str(7, "com.microsoft");
        var raw = new byte[bKN.Length];
        Buffer.BlockCopy(bKN, 0, raw, 0, raw.Length);
        var b = new Proto().Varint(1, k).Varint(1, n).Varint(2, Int8).Str(8, "B").Bytes(9, raw);
        var sraw = new byte[bScale.Length * 4];
        Buffer.BlockCopy(bScale, 0, sraw, 0, sraw.Length);
        var sc = new Proto().Varint(1, n).Varint(2, Float).Str(8, "b_scale").Bytes(9, sraw);
        var graph = new Proto().Msg(1, node).Str(2, "dqmm").Msg(5, b).Msg(5, sc)
            .Msg(11, ValueInfo("A", m, k)).Msg(12, ValueInfo("Y", m, n));
        var opset = new Proto().Str(1, "").Varint(2, 13);
        var msOpset = new Proto().Str(1, "com.microsoft").Varint(2, 1);
        return new Proto().Varint(1, 8).Msg(7, graph).Msg(8, opset).Msg(8, msOpset).ToArray();
    }

    /// <summary>Y [B, S, H*D] = com.microsoft MultiHeadAttention(query, key, value [B, S, H*D]; num_heads = H,
    /// unidirectional = causal), ONNX Runtime's fused CPU attention (opset 1 of the com.microsoft domain).
    /// NodeProto attribute = 5; AttributeProto name = 1, i = 3, type = 20 (INT = 2).</summary>
    public static byte[] MultiHeadAttention(int b, int s, int h, int d, bool causal)
    {
        var node = new Proto().Str(1, "query").Str(1, "key").Str(1, "value").Str(2, "Y").Str(3, "mha")
            .Str(4, "MultiHeadAttention").Msg(5, new Proto().Str(1, "num_heads").Varint(3, h).Varint(20, 2));
        if (causal) node.Msg(5, new Proto().Str(1, "unidirectional").Varint(3, 1).Varint(20, 2));
        node.Str(7, "com.microsoft");
        var graph = new Proto().Msg(1, node).Str(2, "mha")
            .Msg(11, ValueInfo("query", b, s, h * d)).Msg(11, ValueInfo("key", b, s, h * d)).Msg(11, ValueInfo("value", b, s, h * d))
            .Msg(12, ValueInfo("Y", b, s, h * d));
        var opset = new Proto().Str(1, "").Varint(2, 13);
        var msOpset = new Proto().Str(1, "com.microsoft").Varint(2, 1);
        return new Proto().Varint(1, 8).Msg(7, graph).Msg(8, opset).Msg(8, msOpset).ToArray();
    }

    /// <summary>Y [S, D, B, H] = LSTM(X [S, B, I]; W [D, 4H, I], R [D, 4H, H], B [D, 8H] constant initializers,
    /// row-major), hidden_size = H, direction as ONNX spells it (opset 14). AttributeProto s = 4 (STRING = 3).</summary>
    public static byte[] Lstm(int s, int b, int i, int h, string direction, float[] w, float[] r, float[] bias)
    {
        int d = direction == "bidirectional" ? 2 : 1;
        var node = new Proto().Str(1, "X").Str(1, "W").Str(1, "R").Str(1, "B").Str(2, "Y").Str(3, "lstm").Str(4, "LSTM")
            .Msg(5, new Proto().Str(1, "hidden_size").Varint(3, h).Varint(20, 2))
            .Msg(5, new Proto().Str(1, "direction").Str(4, direction).Varint(20, 3));
        static Proto Init(string name, float[] v, params int[] dims)
        {
            var raw = new byte[v.Length * 4];
            Buffer.BlockCopy(v, 0, raw, 0, raw.Length);
            var t = new Proto();
            foreach (int x in dims) t.Varint(1, x);
            return t.Varint(2, Float).Str(8, name).Bytes(9, raw);
        }
        var graph = new Proto().Msg(1, node).Str(2, "lstm")
            .Msg(5, Init("W", w, d, 4 * h, i)).Msg(5, Init("R", r, d, 4 * h, h)).Msg(5, Init("B", bias, d, 8 * h))
            .Msg(11, ValueInfo("X", s, b, i)).Msg(12, ValueInfo("Y", s, d, b, h));
        var opset = new Proto().Str(1, "").Varint(2, 14);
        return new Proto().Varint(1, 8).Msg(7, graph).Msg(8, opset).ToArray();
    }

    internal static Proto ValueInfo(string name, params int[] dims)
    {
        var shape = new Proto();
        foreach (int d in dims) shape.Msg(1, new Proto().Varint(1, d));
        var tensor = new Proto().Varint(1, Float).Msg(2, shape);
        return new Proto().Str(1, name).Msg(2, new Proto().Msg(1, tensor));
    }

    /// <summary>Protobuf wire format: varints (type 0) and length-delimited fields (type 2) are all ONNX needs here.</summary>
    internal sealed class Proto
    {
        private readonly MemoryStream _s = new();

        public Proto Varint(int field, long value) { Tag(field, 0); Raw((ulong)value); return this; }

        public Proto Bytes(int field, byte[] data) { Tag(field, 2); Raw((ulong)data.Length); _s.Write(data); return this; }

        public Proto Str(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));

        public Proto Msg(int field, Proto m) => Bytes(field, m.ToArray());

        public byte[] ToArray() => _s.ToArray();

        private void Tag(int field, int wire) => Raw((ulong)((field << 3) | wire));

        private void Raw(ulong v)
        {
            while (v >= 0x80) { _s.WriteByte((byte)(v | 0x80)); v >>= 7; }
            _s.WriteByte((byte)v);
        }
    }
}
