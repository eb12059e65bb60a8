using Tessera.Formats.Onnx;

namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>Tessera has no f64; a node test whose data is DOUBLE is "not mapped" in the main suite. So that the
/// operators only ONNX's f64 cases exercise (Einsum, ReduceLogSumExp) are still checked, those cases also run with
/// their DOUBLE tensors narrowed to f32 and compared with the f64 expected outputs at the f32 tolerance.</summary>
public static class DoubleData
{
    private const int Double = 11;

    /// <summary>Whether any input_N.pb or output_N.pb of the test's first data set holds DOUBLE data.</summary>
    public static bool Uses(string name)
    {
        string data = Path.Combine(NodeTestData.Root, name, "test_data_set_0");
        return Directory.Exists(data) && Directory.GetFiles(data, "*.pb").Any(f => DataType(File.ReadAllBytes(f)) == Double);
    }

    /// <summary>A TensorProto file as a tensor, DOUBLE data narrowed to f32; other types as OnnxGraph loads them.</summary>
    public static Tensor Load(string path, IBackend backend)
    {
        var b = File.ReadAllBytes(path);
        if (DataType(b) != Double) return OnnxGraph.LoadTensor(path, backend);
        var dims = new List<int>();
        var values = new List<float>();
        foreach (var (field, wire, value, bytes) in Fields(b))
        {
            if (field == 1 && wire == 0) dims.Add(checked((int)value));
            else if (field == 1 && wire == 2) dims.AddRange(Varints(bytes).Select(v => checked((int)v)));
            else if (field == 9 && wire == 2 || field == 10 && wire == 2)   // raw_data, or packed double_data
                for (int i = 0; i + 8 <= bytes.Length; i += 8) values.Add((float)BitConverter.ToDouble(bytes, i));
            else if (field == 10 && wire == 1) values.Add((float)BitConverter.Int64BitsToDouble((long)value));
        }
        return Tensor.FromSpan<float>(backend, values.ToArray(), new Shape([.. dims]));
    }

    private static long DataType(byte[] b) => Fields(b).Where(f => f.Field == 2 && f.Wire == 0).Select(f => (long)f.Value).FirstOrDefault();

    // The top-level fields of a protobuf message: varints and fixed64 as Value, length-delimited ones as Bytes.
    private static IEnumerable<(int Field, int Wire, ulong Value, byte[] Bytes)> Fields(byte[] b)
    {
        int i = 0;
        while (i < b.Length)
        {
            ulong tag = Varint(b, ref i);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            switch (wire)
            {
                case 0: yield return (field, wire, Varint(b, ref i), []); break;
                case 1: yield return (field, wire, BitConverter.ToUInt64(b, i), []); i += 8; break;
                case 5: yield return (field, wire, BitConverter.ToUInt32(b, i), []); i += 4; break;
                case 2:
                    int n = checked((int)Varint(b, ref i));
                    yield return (field, wire, 0, b[i..(i + n)]);
                    i += n;
                    break;
                default: throw new InvalidDataException($"wire type {wire} at byte {i}");
            }
        }
    }

    private static IEnumerable<ulong> Varints(byte[] b)
    {
        int i = 0;
        while (i < b.Length) yield return Varint(b, ref i);
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
}
