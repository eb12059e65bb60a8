using System.Buffers.Binary;

namespace Tessera.Formats.Onnx;

/// <summary>ONNX's TensorProto.DataType numbers, their sizes and Tessera dtypes, and decoding of a TensorProto's data
/// (raw_data, or the typed repeated fields, packed or not) into little-endian bytes.</summary>
internal static class OnnxTypes
{
    public static (string Name, int Size, DType? DType) Of(int type) => type switch
    {
        1 => ("FLOAT", 4, DType.F32),
        2 => ("UINT8", 1, DType.U8),
        3 => ("INT8", 1, DType.I8),
        4 => ("UINT16", 2, null),
        5 => ("INT16", 2, null),
        6 => ("INT32", 4, DType.I32),
        7 => ("INT64", 8, DType.I64),
        8 => ("STRING", 0, null),
        9 => ("BOOL", 1, DType.U8),
        10 => ("FLOAT16", 2, DType.F16),
        11 => ("DOUBLE", 8, null),
        12 => ("UINT32", 4, null),
        13 => ("UINT64", 8, null),
        14 => ("COMPLEX64", 8, null),
        15 => ("COMPLEX128", 16, null),
        16 => ("BFLOAT16", 2, DType.BF16),
        _ => ($"type {type}", 0, null),
    };

    /// <summary>The tensor's data as <paramref name="bytes"/> little-endian bytes.</summary>
    public static byte[] Decode(ProtoReader r, string file, string name, int type, long bytes)
    {
        if (bytes > int.MaxValue) throw new WeightFormatException(file, name, "more than 2 GB of data");
        var result = new byte[bytes];
        int size = Of(type).Size, n = 0;
        bool raw = false;
        void Put(ulong v)
        {
            if ((long)(n + 1) * size > bytes) throw new WeightFormatException(file, name, $"more values than [{bytes / Math.Max(size, 1)}] elements");
            var dst = result.AsSpan(n * size, size);
            switch (size)
            {
                case 1: dst[0] = (byte)v; break;
                case 2: BinaryPrimitives.WriteUInt16LittleEndian(dst, (ushort)v); break;
                case 4: BinaryPrimitives.WriteUInt32LittleEndian(dst, (uint)v); break;
                default: BinaryPrimitives.WriteUInt64LittleEndian(dst, v); break;
            }
            n++;
        }
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 9 && w == 2)
            {
                r.Message(out var b);
                if (b.Length != bytes) throw new WeightFormatException(file, name, $"raw_data has {b.Length} bytes, expected {bytes}");
                b.CopyTo(result);
                raw = true;
            }
            else if (f == 4 && type == 1) // float_data
            {
                if (w == 5) Put(r.Fixed32());
                else if (w == 2) { var p = r.Message(out _); while (!p.End) Put(p.Fixed32()); }
                else r.Skip(w);
            }
            else if ((f == 5 && type is 2 or 3 or 6 or 9 or 10 or 16) || (f == 7 && type == 7)) // int32_data, int64_data
            {
                if (w == 0) Put(r.Varint());
                else if (w == 2) { var p = r.Message(out _); while (!p.End) Put(p.Varint()); }
                else r.Skip(w);
            }
            else r.Skip(w);
        }
        if (!raw && (long)n * size != bytes)
            throw new WeightFormatException(file, name, $"{n} values for {bytes / Math.Max(size, 1)} elements");
        return result;
    }
}
