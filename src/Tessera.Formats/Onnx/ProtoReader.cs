namespace Tessera.Formats.Onnx;

/// <summary>A minimal protobuf wire-format reader over a span: tags, varints, fixed 32/64-bit values and
/// length-delimited slices, every length checked against the bytes left. Enough to walk ONNX's ModelProto without
/// generated code and without copying the (possibly large) raw tensor data.</summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data, string file, int baseOffset)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    /// <summary>Offset of the next byte from the start of the file.</summary>
    public readonly long FileOffset => baseOffset + _pos;

    public readonly bool End => _pos >= _data.Length;

    private readonly WeightFormatException Error(string what) => new(file, null, $"corrupt protobuf at byte {FileOffset}: {what}");

    /// <summary>The next field number and wire type.</summary>
    public (int Field, int Wire) Tag()
    {
        ulong t = Varint();
        int field = (int)Math.Min(t >> 3, int.MaxValue);
        if (field == 0) throw Error("field number 0");
        return (field, (int)(t & 7));
    }

    public ulong Varint()
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw Error("truncated varint");
            byte b = _data[_pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
        throw Error("varint longer than 10 bytes");
    }

    public uint Fixed32()
    {
        if (_data.Length - _pos < 4) throw Error("truncated fixed32");
        uint v = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
        _pos += 4;
        return v;
    }

    public ulong Fixed64()
    {
        if (_data.Length - _pos < 8) throw Error("truncated fixed64");
        ulong v = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(_data[_pos..]);
        _pos += 8;
        return v;
    }

    /// <summary>A length-delimited field's bytes, and a reader over them that reports file offsets.</summary>
    public ProtoReader Message(out ReadOnlySpan<byte> bytes)
    {
        ulong len = Varint();
        if (len > (ulong)(_data.Length - _pos)) throw Error($"a field of {len} bytes with {_data.Length - _pos} left");
        int start = _pos;
        bytes = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return new ProtoReader(bytes, file, baseOffset + start);
    }

    public string String() { Message(out var b); return System.Text.Encoding.UTF8.GetString(b); }

    public void Skip(int wire)
    {
        switch (wire)
        {
            case 0: Varint(); break;
            case 1: Fixed64(); break;
            case 2: Message(out _); break;
            case 5: Fixed32(); break;
            default: throw Error($"unsupported wire type {wire}");
        }
    }
}
