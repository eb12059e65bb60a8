namespace Tessera.Formats.Onnx;

/// <summary>The weights of an ONNX model: the graph's initializers and the values of its Constant nodes (paddle2onnx
/// stores weights that way; see <see cref="OnnxConstants"/>), named by the node's output, read from the protobuf without generated code. Loading decodes into a new tensor (ONNX
/// data is not aligned and may be varint-encoded); tensors in external data files are listed but not loaded.</summary>
public sealed class OnnxFile : IWeightSource
{
    private const int MaxDims = 16;

    private readonly MappedFile _map;
    private readonly List<string> _names;
    private readonly Dictionary<string, OnnxEntry> _tensors;

    private OnnxFile(MappedFile map, List<string> names, Dictionary<string, OnnxEntry> tensors, Dictionary<string, object> metadata)
    {
        _map = map;
        _names = names;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <inheritdoc/>
    public string Path => _map.Path;

    /// <inheritdoc/>
    public string Format => "onnx";

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc/>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var t) ? t.Info : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public void Dispose() => _map.Dispose();

    /// <summary>Opens an .onnx file and lists its weights.</summary>
    public static unsafe OnnxFile Open(string path)
    {
        var map = MappedFile.Open(path);
        try
        {
            if (map.Length > int.MaxValue) throw new WeightFormatException(path, null, "larger than 2 GB; ONNX keeps such weights in external data files");
            var r = new ProtoReader(new ReadOnlySpan<byte>(map.Pointer, (int)map.Length), path, 0);
            var names = new List<string>();
            var tensors = new Dictionary<string, OnnxEntry>();
            var metadata = new Dictionary<string, object>();
            while (!r.End)
            {
                var (f, w) = r.Tag();
                if (f == 1 && w == 0) metadata["ir_version"] = r.Varint().ToString();
                else if (f == 2 && w == 2) metadata["producer_name"] = r.String();
                else if (f == 3 && w == 2) metadata["producer_version"] = r.String();
                else if (f == 8 && w == 2) ReadOpset(r.Message(out _), metadata);
                else if (f == 7 && w == 2) ReadGraph(r.Message(out _), path, names, tensors);
                else r.Skip(w);
            }
            return new OnnxFile(map, names, tensors, metadata);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    private static void ReadOpset(ProtoReader r, Dictionary<string, object> metadata)
    {
        string domain = "";
        ulong version = 0;
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 2) domain = r.String();
            else if (f == 2 && w == 0) version = r.Varint();
            else r.Skip(w);
        }
        metadata[$"opset{(domain.Length == 0 ? "" : "." + domain)}"] = version.ToString();
    }

    private static void ReadGraph(ProtoReader r, string path, List<string> names, Dictionary<string, OnnxEntry> tensors)
    {
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 5 && w == 2) Add(ReadTensor(r.Message(out var b), b.Length, path, null), path, names, tensors);
            else if (f == 1 && w == 2)
            {
                if (OnnxConstants.Read(r.Message(out _), path) is { } constant) Add(constant, path, names, tensors);
            }
            else r.Skip(w);
        }
    }

    private static void Add(OnnxEntry t, string path, List<string> names, Dictionary<string, OnnxEntry> tensors)
    {
        if (t.Info.Name.Length == 0) throw new WeightFormatException(path, null, "an initializer has no name");
        if (!tensors.TryAdd(t.Info.Name, t)) throw new WeightFormatException(path, t.Info.Name, "duplicate tensor name");
        names.Add(t.Info.Name);
    }

    internal static OnnxEntry ReadTensor(ProtoReader r, int length, string path, string? fallbackName)
    {
        long protoOffset = r.FileOffset;
        var dims = new List<long>();
        int dataType = 0;
        string name = fallbackName ?? "";
        long rawOffset = -1, rawLength = 0;
        bool external = false;
        while (!r.End)
        {
            var (f, w) = r.Tag();
            if (f == 1 && w == 0) dims.Add((long)r.Varint());
            else if (f == 1 && w == 2) { var p = r.Message(out _); while (!p.End) dims.Add((long)p.Varint()); }
            else if (f == 2 && w == 0) dataType = (int)Math.Min(r.Varint(), int.MaxValue);
            else if (f == 8 && w == 2) name = r.String();
            else if (f == 9 && w == 2) { var p = r.Message(out var raw); rawOffset = p.FileOffset; rawLength = raw.Length; }
            else if (f == 14 && w == 0) external = r.Varint() == 1;
            else r.Skip(w);
            if (dims.Count > MaxDims) throw new WeightFormatException(path, name, $"more than {MaxDims} dimensions");
        }
        long count = WeightLoading.ElementCount(path, name, dims.ToArray());
        var (typeName, size, dtype) = OnnxTypes.Of(dataType);
        if (size > 0 && count > long.MaxValue / size) throw new WeightFormatException(path, name, "the byte size overflows 64 bits");
        long bytes = count * size;
        if (rawOffset >= 0 && size > 0 && rawLength != bytes)
            throw new WeightFormatException(path, name, $"raw_data has {rawLength} bytes, {typeName} [{string.Join(", ", dims)}] needs {bytes}");
        var info = new TensorInfo(name, external ? typeName + " (external)" : typeName, external ? null : dtype, dims, path,
            rawOffset >= 0 ? rawOffset : protoOffset, bytes);
        return new OnnxEntry(info, protoOffset, length, dataType);
    }

    /// <inheritdoc/>
    public unsafe Tensor Load(string name, IBackend backend)
    {
        if (!_tensors.TryGetValue(name, out var t)) throw new KeyNotFoundException($"{Path}: no tensor '{name}'");
        var info = t.Info;
        var dtype = info.DType ?? throw new WeightFormatException(Path, name, $"element type {info.TypeName} cannot be loaded");
        var shape = info.ToShape();
        byte[] bytes = t.Inline ?? OnnxTypes.Decode(new ProtoReader(new ReadOnlySpan<byte>(_map.Pointer + t.ProtoOffset, t.ProtoLength), Path, (int)t.ProtoOffset),
            Path, name, t.DataType, info.ByteLength);
        var result = Tensor.Zeros(backend, dtype, shape);
        backend.CopyFromHost(bytes, result.Storage, 0);
        return result;
    }
}
