using System.Text;

namespace Tessera.Formats.Gguf;

/// <summary>A GGUF file (versions 2 and 3), memory-mapped: header, typed metadata, tensor infos (ggml's innermost-first
/// <c>ne</c> reversed to Tessera's outermost-first dims) and zero-copy tensor loading. Every length, count, dimension,
/// type and offset is checked against the file before it is used, so a hostile file gives a
/// <see cref="WeightFormatException"/>, never a huge allocation or a read outside the mapping.</summary>
public sealed class GgufFile : IWeightSource
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>The alignment of tensor data when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;

    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDims = 4;

    private const int MaxArrayNesting = 16;

    private readonly MappedFile _map;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly List<string> _names;
    private readonly Dictionary<string, uint> _ggmlTypes;

    private GgufFile(MappedFile map, uint version, Dictionary<string, GgufValue> kv, List<string> keys,
        List<TensorInfo> tensors, Dictionary<string, uint> ggmlTypes, int alignment, long dataOffset)
    {
        _map = map;
        Version = version;
        Values = kv;
        Keys = keys;
        Alignment = alignment;
        DataOffset = dataOffset;
        _names = tensors.Select(t => t.Name).ToList();
        _byName = tensors.ToDictionary(t => t.Name);
        _ggmlTypes = ggmlTypes;
        Metadata = keys.ToDictionary(k => k, k => (object)kv[k]);
    }

    /// <inheritdoc/>
    public string Path => _map.Path;

    /// <inheritdoc/>
    public string Format => "gguf";

    /// <summary>The GGUF version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>Metadata keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Typed metadata values by key.</summary>
    public IReadOnlyDictionary<string, GgufValue> Values { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <summary>Alignment of tensor data (<c>general.alignment</c>, default 32).</summary>
    public int Alignment { get; }

    /// <summary>File offset of the data section; GGUF tensor offsets are relative to it.</summary>
    public long DataOffset { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var i) ? i : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <summary>The tensor's ggml type number as stored.</summary>
    public uint GgmlTypeOf(string name) { Info(name); return _ggmlTypes[name]; }

    /// <inheritdoc/>
    public Tensor Load(string name, IBackend backend) => WeightLoading.Load(_map, Info(name), backend);

    /// <inheritdoc/>
    public void Dispose() => _map.Dispose();

    /// <summary>Opens and validates a GGUF file.</summary>
    public static GgufFile Open(string path)
    {
        var map = MappedFile.Open(path);
        try { return Parse(map); }
        catch { map.Dispose(); throw; }
    }

    private static GgufFile Parse(MappedFile map)
    {
        string path = map.Path;
        var c = map.Cursor();
        uint magic = c.U32("the magic");
        if (magic != Magic) throw new WeightFormatException(path, null, $"not a GGUF file (magic 0x{magic:X8}, expected \"GGUF\")");
        uint version = c.U32("the version");
        if (version is not (2 or 3)) throw new WeightFormatException(path, null, $"GGUF version {version} is not supported (2 and 3 are)");
        ulong nTensors = c.U64("the tensor count");
        ulong nKv = c.U64("the metadata count");
        // Each key-value takes at least 12 bytes (key length, type) and each tensor info at least 24 (name length,
        // n_dims, type, offset): counts beyond that cannot be honest, and must not size a collection.
        if (nKv > (ulong)c.Remaining / 12) throw new WeightFormatException(path, null, $"{nKv} metadata entries cannot fit in the {c.Remaining} bytes left");
        if (nTensors > (ulong)c.Remaining / 24) throw new WeightFormatException(path, null, $"{nTensors} tensors cannot fit in the {c.Remaining} bytes left");

        var kv = new Dictionary<string, GgufValue>((int)nKv);
        var keys = new List<string>((int)nKv);
        for (ulong i = 0; i < nKv; i++)
        {
            string key = ReadString(ref c, "a metadata key");
            uint type = c.U32($"the type of '{key}'");
            var value = ReadValue(ref c, type, key, 0);
            if (!kv.TryAdd(key, value)) throw new WeightFormatException(path, null, $"duplicate metadata key '{key}'");
            keys.Add(key);
        }

        int alignment = DefaultAlignment;
        if (kv.TryGetValue("general.alignment", out var al))
        {
            if (al.Type != GgufType.UInt32 || (uint)al.Value == 0 || ((uint)al.Value & ((uint)al.Value - 1)) != 0 || (uint)al.Value > (1u << 30))
                throw new WeightFormatException(path, null, $"general.alignment must be a uint32 power of two, got {al.Type} {al}");
            alignment = (int)(uint)al.Value;
        }

        var tensors = new List<TensorInfo>((int)nTensors);
        var ggmlTypes = new Dictionary<string, uint>((int)nTensors);
        var rel = new List<(string Name, ulong Offset)>((int)nTensors);
        Span<long> ne = stackalloc long[MaxDims];
        for (ulong i = 0; i < nTensors; i++)
        {
            string name = ReadString(ref c, "a tensor name");
            uint nDims = c.U32($"the rank of '{name}'");
            if (nDims > MaxDims) throw new WeightFormatException(path, name, $"{nDims} dimensions (GGUF allows at most {MaxDims})");
            for (int d = 0; d < nDims; d++) ne[d] = (long)c.U64($"dimension {d} of '{name}'");
            uint type = c.U32($"the type of '{name}'");
            ulong offset = c.U64($"the offset of '{name}'");
            var dimsGgml = ne[..(int)nDims];
            long count = WeightLoading.ElementCount(path, name, dimsGgml);
            var traits = GgmlTypes.Traits(type) ?? throw new WeightFormatException(path, name, $"unknown ggml tensor type {type}");
            if (nDims > 0 && dimsGgml[0] % traits.BlockSize != 0)
                throw new WeightFormatException(path, name, $"the inner dimension {dimsGgml[0]} is not a multiple of the {GgmlTypes.Name(type)} block size {traits.BlockSize}");
            if (count / traits.BlockSize > long.MaxValue / traits.TypeSize)
                throw new WeightFormatException(path, name, $"{count} elements of {GgmlTypes.Name(type)} overflow 64 bits of bytes");
            if (offset % (ulong)alignment != 0)
                throw new WeightFormatException(path, name, $"offset {offset} is not a multiple of the alignment {alignment}");
            if (!ggmlTypes.TryAdd(name, type)) throw new WeightFormatException(path, name, "duplicate tensor name");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++) dims[d] = dimsGgml[(int)nDims - 1 - d];
            long bytes = count / traits.BlockSize * traits.TypeSize;
            tensors.Add(new TensorInfo(name, GgmlTypes.Name(type), GgmlTypes.ToDType(type), dims, path, 0, bytes));
            rel.Add((name, offset));
        }

        // The data section starts at the next multiple of the alignment (it may be absent when there are no tensors).
        long dataOffset = (c.Position + alignment - 1) / alignment * alignment;
        long dataEnd = map.Length;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            ulong off = rel[i].Offset;
            if (off > (ulong)Math.Max(0, dataEnd - dataOffset) || (long)off > dataEnd - dataOffset - t.ByteLength)
                throw new WeightFormatException(path, t.Name, $"data at offset {off} (+{t.ByteLength} bytes) runs past the end of the file (data section: {Math.Max(0, dataEnd - dataOffset)} bytes)");
            tensors[i] = t with { Offset = dataOffset + (long)off };
        }
        WeightLoading.CheckRanges(path, tensors, dataOffset, dataEnd);
        return new GgufFile(map, version, kv, keys, tensors, ggmlTypes, alignment, dataOffset);
    }

    private static string ReadString(ref ByteCursor c, string what)
    {
        ulong len = c.U64($"the length of {what}");
        if (len > (ulong)c.Remaining)
            throw new WeightFormatException(c.Path, null, $"{what} claims {len} bytes at offset {c.Position}, only {c.Remaining} are left");
        return Encoding.UTF8.GetString(c.Bytes((long)len, what));
    }

    private static GgufValue ReadValue(ref ByteCursor c, uint type, string key, int depth)
    {
        string what = $"the value of '{key}'";
        switch ((GgufType)type)
        {
            case GgufType.UInt8: return GgufValue.From(c.U8(what));
            case GgufType.Int8: return GgufValue.From((sbyte)c.U8(what));
            case GgufType.UInt16: return GgufValue.From(c.U16(what));
            case GgufType.Int16: return GgufValue.From((short)c.U16(what));
            case GgufType.UInt32: return GgufValue.From(c.U32(what));
            case GgufType.Int32: return GgufValue.From((int)c.U32(what));
            case GgufType.Float32: return GgufValue.From(BitConverter.UInt32BitsToSingle(c.U32(what)));
            case GgufType.Bool: return GgufValue.From(ReadBool(ref c, key));
            case GgufType.String: return GgufValue.From(ReadString(ref c, what));
            case GgufType.UInt64: return GgufValue.From(c.U64(what));
            case GgufType.Int64: return GgufValue.From((long)c.U64(what));
            case GgufType.Float64: return GgufValue.From(BitConverter.UInt64BitsToDouble(c.U64(what)));
            case GgufType.Array: return ReadArray(ref c, key, depth);
            default: throw new WeightFormatException(c.Path, null, $"metadata '{key}' has unknown value type {type}");
        }
    }

    private static bool ReadBool(ref ByteCursor c, string key)
    {
        byte b = c.U8($"the value of '{key}'");
        if (b > 1) throw new WeightFormatException(c.Path, null, $"metadata '{key}': bool byte {b} is neither 0 nor 1");
        return b == 1;
    }

    private static GgufValue ReadArray(ref ByteCursor c, string key, int depth)
    {
        if (depth >= MaxArrayNesting) throw new WeightFormatException(c.Path, null, $"metadata '{key}': arrays nested more than {MaxArrayNesting} deep");
        uint et = c.U32($"the element type of '{key}'");
        ulong n = c.U64($"the length of '{key}'");
        int minSize = (GgufType)et switch
        {
            GgufType.UInt8 or GgufType.Int8 or GgufType.Bool => 1,
            GgufType.UInt16 or GgufType.Int16 => 2,
            GgufType.UInt32 or GgufType.Int32 or GgufType.Float32 => 4,
            GgufType.UInt64 or GgufType.Int64 or GgufType.Float64 or GgufType.String => 8,
            GgufType.Array => 12,
            _ => throw new WeightFormatException(c.Path, null, $"metadata '{key}' is an array of unknown type {et}"),
        };
        // Cap the count by what the rest of the file could hold before anything is allocated.
        if (n > (ulong)c.Remaining / (ulong)minSize)
            throw new WeightFormatException(c.Path, null, $"metadata '{key}' claims {n} array elements, the {c.Remaining} bytes left hold at most {c.Remaining / minSize}");
        int len = (int)n;
        string what = $"an element of '{key}'";
        switch ((GgufType)et)
        {
            case GgufType.UInt8: return GgufValue.Array(c.Bytes(len, what).ToArray());
            case GgufType.Int8: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => (sbyte)r.U8(w)));
            case GgufType.UInt16: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => r.U16(w)));
            case GgufType.Int16: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => (short)r.U16(w)));
            case GgufType.UInt32: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => r.U32(w)));
            case GgufType.Int32: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => (int)r.U32(w)));
            case GgufType.Float32: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => BitConverter.UInt32BitsToSingle(r.U32(w))));
            case GgufType.Bool:
                {
                    var a = new bool[len];
                    for (int i = 0; i < len; i++) a[i] = ReadBool(ref c, key);
                    return GgufValue.Array(a);
                }
            case GgufType.String: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => ReadString(ref r, w)));
            case GgufType.UInt64: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => r.U64(w)));
            case GgufType.Int64: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => (long)r.U64(w)));
            case GgufType.Float64: return GgufValue.Array(Read(ref c, len, what, static (ref ByteCursor r, string w) => BitConverter.UInt64BitsToDouble(r.U64(w))));
            default:
                {
                    var a = new GgufValue[len];
                    for (int i = 0; i < len; i++) a[i] = ReadArray(ref c, key, depth + 1);
                    return GgufValue.Array(a);
                }
        }
    }

    private delegate T Reader<T>(ref ByteCursor c, string what);

    private static T[] Read<T>(ref ByteCursor c, int n, string what, Reader<T> read)
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = read(ref c, what);
        return a;
    }
}
