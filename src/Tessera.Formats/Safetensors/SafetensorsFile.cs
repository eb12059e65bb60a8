using System.Text.Json;

namespace Tessera.Formats.Safetensors;

/// <summary>A safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}</c>, then the data, with
/// offsets relative to the end of the header. The header is validated whole before any tensor is handed out.</summary>
public sealed class SafetensorsFile : IWeightSource
{
    /// <summary>The largest header accepted (the Hugging Face library's own limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The most dimensions accepted for one tensor.</summary>
    public const int MaxDims = 16;

    private readonly MappedFile _map;
    private readonly List<string> _names;
    private readonly Dictionary<string, TensorInfo> _byName;

    private SafetensorsFile(MappedFile map, List<TensorInfo> tensors, Dictionary<string, string> metadata, long dataOffset)
    {
        _map = map;
        _names = tensors.Select(t => t.Name).ToList();
        _byName = tensors.ToDictionary(t => t.Name);
        TextMetadata = metadata;
        Metadata = metadata.ToDictionary(kv => kv.Key, kv => (object)kv.Value);
        DataOffset = dataOffset;
    }

    /// <inheritdoc/>
    public string Path => _map.Path;

    /// <inheritdoc/>
    public string Format => "safetensors";

    /// <summary>The <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> TextMetadata { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <summary>File offset of the byte buffer (8 + header length).</summary>
    public long DataOffset { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var i) ? i : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public Tensor Load(string name, IBackend backend) => WeightLoading.Load(_map, Info(name), backend);

    /// <inheritdoc/>
    public void Dispose() => _map.Dispose();

    /// <summary>Opens and validates a safetensors file.</summary>
    public static SafetensorsFile Open(string path)
    {
        var map = MappedFile.Open(path);
        try { return Parse(map); }
        catch { map.Dispose(); throw; }
    }

    private static SafetensorsFile Parse(MappedFile map)
    {
        string path = map.Path;
        var c = map.Cursor();
        ulong headerLen = c.U64("the header length");
        if (headerLen > (ulong)c.Remaining)
            throw new WeightFormatException(path, null, $"the header claims {headerLen} bytes, the file has {c.Remaining} after the length");
        if (headerLen > MaxHeaderBytes)
            throw new WeightFormatException(path, null, $"the header claims {headerLen} bytes, more than the {MaxHeaderBytes} accepted");
        var headerBytes = c.Bytes((long)headerLen, "the header");
        long dataOffset = 8 + (long)headerLen;
        long dataLen = map.Length - dataOffset;

        // JsonDocument checks the UTF-8 of strings only when they are read, as an InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw new WeightFormatException(path, null, "the header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new WeightFormatException(path, null, $"the header is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new WeightFormatException(path, null, $"the header is a JSON {doc.RootElement.ValueKind}, not an object");
            var tensors = new List<TensorInfo>();
            var seen = new HashSet<string>();
            var metadata = new Dictionary<string, string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw new WeightFormatException(path, prop.Name, "duplicate name in the header");
                if (prop.Name == "__metadata__") { ReadMetadata(path, prop.Value, metadata); continue; }
                tensors.Add(ReadTensor(path, prop.Name, prop.Value, dataOffset, dataLen));
            }
            WeightLoading.CheckRanges(path, tensors, dataOffset, map.Length);
            return new SafetensorsFile(map, tensors, metadata, dataOffset);
        }
    }

    private static void ReadMetadata(string path, JsonElement e, Dictionary<string, string> metadata)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new WeightFormatException(path, null, $"__metadata__ is a JSON {e.ValueKind}, not an object");
        foreach (var p in e.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new WeightFormatException(path, null, $"__metadata__ value '{p.Name}' is a JSON {p.Value.ValueKind}; safetensors metadata values are strings");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!)) throw new WeightFormatException(path, null, $"duplicate __metadata__ key '{p.Name}'");
        }
    }

    private static TensorInfo ReadTensor(string path, string name, JsonElement e, long dataOffset, long dataLen)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new WeightFormatException(path, name, $"the entry is a JSON {e.ValueKind}, not an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new WeightFormatException(path, name, "missing or non-string \"dtype\"");
        string dtype = dt.GetString()!;
        int elemSize = SafetensorsDTypes.ElementSize(dtype);
        if (elemSize == 0) throw new WeightFormatException(path, name, $"unknown dtype \"{dtype}\"");

        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new WeightFormatException(path, name, "missing or non-array \"shape\"");
        int rank = sh.GetArrayLength();
        if (rank > MaxDims) throw new WeightFormatException(path, name, $"{rank} dimensions (at most {MaxDims} accepted)");
        var dims = new long[rank];
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v))
                throw new WeightFormatException(path, name, $"dimension {k} ({d.GetRawText()}) is not a 64-bit integer");
            dims[k++] = v;
        }
        long count = WeightLoading.ElementCount(path, name, dims);

        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new WeightFormatException(path, name, "missing \"data_offsets\" [begin, end]");
        long begin = 0, end = -1;
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out begin) || !off[1].TryGetInt64(out end) || begin < 0 || end < begin)
            throw new WeightFormatException(path, name, $"data_offsets {off.GetRawText()} are not 0 <= begin <= end");
        if (end > dataLen)
            throw new WeightFormatException(path, name, $"data_offsets [{begin}, {end}] run past the end of the data ({dataLen} bytes)");
        if (count > long.MaxValue / elemSize || count * elemSize != end - begin)
            throw new WeightFormatException(path, name, $"{end - begin} bytes do not hold {dtype} [{string.Join(", ", dims)}] ({count} elements of {elemSize} bytes)");
        foreach (var p in e.EnumerateObject())
            if (p.Name is not ("dtype" or "shape" or "data_offsets"))
                throw new WeightFormatException(path, name, $"unexpected field \"{p.Name}\"");
        return new TensorInfo(name, dtype, SafetensorsDTypes.ToDType(dtype), dims, path, dataOffset + begin, end - begin);
    }
}
