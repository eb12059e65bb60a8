namespace Tessera.Formats.Pytorch;

/// <summary>A PyTorch checkpoint as <c>torch.save</c> writes it since 1.6 (<c>.pth</c>, <c>.pt</c>, <c>.bin</c>,
/// <c>.ckpt</c>): a zip archive of stored members, <c>{archive}/data.pkl</c> (the pickled state dict) and one member
/// <c>{archive}/data/{key}</c> per tensor storage. The pickle is read as data by <see cref="PickleMachine"/> (only the
/// names that rebuild tensors and containers, nothing executed); tensors are zero-copy views of their storage's bytes
/// in the memory-mapped archive. Names are the state dict's keys, nested dicts joined with dots
/// (<c>{"model": sd}</c> gives <c>model.x.weight</c>); ints, floats and strings beside the tensors are
/// <see cref="Metadata"/>. A tensor saved as a non-contiguous view is listed, with its strides, but not loaded.</summary>
public sealed class PthFile : IWeightSource
{
    /// <summary>The most dimensions accepted for one tensor.</summary>
    public const int MaxDims = 16;

    /// <summary>The largest data.pkl read (a state dict of ten thousand tensors pickles to a few MB).</summary>
    public const long MaxPickleBytes = 256L << 20;

    private readonly MappedFile _map;
    private readonly List<string> _names;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly Dictionary<string, PthTensorView> _views;

    private PthFile(MappedFile map, string archive, List<(TensorInfo Info, PthTensorView View)> tensors, Dictionary<string, string> metadata)
    {
        _map = map;
        ArchiveName = archive;
        _names = tensors.Select(t => t.Info.Name).ToList();
        _byName = tensors.ToDictionary(t => t.Info.Name, t => t.Info);
        _views = tensors.ToDictionary(t => t.Info.Name, t => t.View);
        TextMetadata = metadata;
        Metadata = metadata.ToDictionary(kv => kv.Key, kv => (object)kv.Value);
    }

    /// <inheritdoc/>
    public string Path => _map.Path;

    /// <inheritdoc/>
    public string Format => "pth";

    /// <summary>The archive's top folder (the file name torch.save was given, without extension).</summary>
    public string ArchiveName { get; }

    /// <summary>The checkpoint's non-tensor values (ints, floats, bools, strings and lists of them) as text, by flattened name.</summary>
    public IReadOnlyDictionary<string, string> TextMetadata { get; }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor's type (torch's dtype name: "float32", "bfloat16", ...), shape and place in the file. For a
    /// view saved non-contiguous, <see cref="TensorInfo.ByteLength"/> is the span of storage it covers (see
    /// <see cref="Strides"/>); throws <see cref="KeyNotFoundException"/> naming the file when absent.</summary>
    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var i) ? i : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <summary>The tensor's strides in elements, as saved.</summary>
    public IReadOnlyList<long> Strides(string name) { Info(name); return _views[name].Stride; }

    /// <summary>Whether the tensor was saved contiguous (row-major); only those load.</summary>
    public bool IsContiguous(string name) { Info(name); return Contiguous(_views[name].Size, _views[name].Stride); }

    /// <summary>The storage key (its member <c>{archive}/data/{key}</c>) and the tensor's offset in it, in elements;
    /// tensors that share a storage (views, tied weights) have the same key.</summary>
    public (string Key, long Offset) StorageOf(string name) { Info(name); return (_views[name].Storage.Key, _views[name].Offset); }

    /// <inheritdoc/>
    public Tensor Load(string name, IBackend backend)
    {
        var info = Info(name);
        var v = _views[name];
        if (!Contiguous(v.Size, v.Stride))
            throw new WeightFormatException(Path, name, $"saved as a non-contiguous view (size [{string.Join(", ", v.Size)}], strides [{string.Join(", ", v.Stride)}]): it is listed but not loaded; save t.contiguous() instead");
        return WeightLoading.Load(_map, info, backend);
    }

    /// <inheritdoc/>
    public void Dispose() => _map.Dispose();

    /// <summary>Opens a checkpoint and reads its pickle (as data) and directory; every tensor is checked to lie inside
    /// its storage before any is handed out.</summary>
    public static PthFile Open(string path)
    {
        var map = MappedFile.Open(path);
        try { return Parse(map); }
        catch { map.Dispose(); throw; }
    }

    private static unsafe PthFile Parse(MappedFile map)
    {
        string path = map.Path;
        var head = new ReadOnlySpan<byte>(map.Pointer, (int)Math.Min(map.Length, 4));
        if (head.Length >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new WeightFormatException(path, null, "the legacy (pre-1.6, not zip) torch.save format: it is a bare pickle stream and is not read; re-save it with a current torch.save, or as safetensors");
        if (!ZipDirectory.HasZipMagic(head)) throw new WeightFormatException(path, null, "not a zip archive, so not a PyTorch checkpoint");

        var entries = ZipDirectory.Read(map);
        var byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        // torch names every member "{archive}/..."; the first member's folder is the archive's (as torch's reader does).
        int slash = entries.Count == 0 ? -1 : entries[0].Name.IndexOf('/');
        string prefix = slash < 0 ? "" : entries[0].Name[..(slash + 1)];
        if (byName.ContainsKey(prefix + "constants.pkl"))
            throw new WeightFormatException(path, null, "a TorchScript archive (torch.jit.save), whose pickle needs its code: load it in Python and save its state_dict() with torch.save");
        if (!byName.TryGetValue(prefix + "data.pkl", out var pkl))
            throw new WeightFormatException(path, null, $"a zip archive without '{prefix}data.pkl': not a PyTorch checkpoint");
        if (byName.TryGetValue(prefix + "byteorder", out var order))
        {
            string bo = System.Text.Encoding.ASCII.GetString(new ReadOnlySpan<byte>(map.Pointer + order.DataOffset, (int)Math.Min(order.Length, 16)));
            if (bo != "little") throw new WeightFormatException(path, null, $"byteorder '{bo}': only little-endian checkpoints are read");
        }
        if (pkl.Length > MaxPickleBytes) throw new WeightFormatException(path, null, $"data.pkl has {pkl.Length} bytes, more than the {MaxPickleBytes} accepted");
        var pickle = new ReadOnlySpan<byte>(map.Pointer + pkl.DataOffset, (int)pkl.Length).ToArray();

        var storages = new Dictionary<string, PthStorage>(StringComparer.Ordinal);
        object? root = PickleMachine.Run(path, pickle, (id, fail) => Storage(id, fail, prefix, byName, storages));
        var (views, metadata) = PthStateDict.Flatten(path, root);
        var tensors = views.Select(t => (Describe(path, t.Name, t.View), t.View)).ToList();
        return new PthFile(map, prefix.TrimEnd('/'), tensors, metadata);
    }

    // BINPERSID's id: ('storage', torch.FloatStorage, key, location, numel), numel in elements of the storage type.
    private static PthStorage Storage(object? id, Func<string, WeightFormatException> fail, string prefix,
        Dictionary<string, ZipEntry> entries, Dictionary<string, PthStorage> storages)
    {
        if (id is not PyTuple { Items: ["storage", PyGlobal g, string key, string, long count] })
            throw fail($"a persistent id {PickleGlobals.Describe(id)} that is not ('storage', type, key, location, numel)");
        var type = g.Module == "torch" ? PthStorageType.Find(g.Name) : null;
        if (type is null) throw fail($"a storage of type {g.FullName}");
        if (storages.TryGetValue(key, out var seen))
            return seen.Type == type && seen.Count == count ? seen : throw fail($"storage '{key}' is named twice with different types or sizes");
        if (!entries.TryGetValue(prefix + "data/" + key, out var entry)) throw fail($"storage '{key}' has no member '{prefix}data/{key}' in the archive");
        if (count < 0 || count > entry.Length / type.ElementSize)
            throw fail($"storage '{key}' claims {count} {type.TorchName} elements, its member holds {entry.Length} bytes");
        return storages[key] = new PthStorage(key, type, count, entry);
    }

    // Checks that every element the view reaches lies in its storage, and places it in the file.
    private static TensorInfo Describe(string path, string name, PthTensorView v)
    {
        var type = v.Storage.Type;
        long count = WeightLoading.ElementCount(path, name, v.Size);
        long bytes = 0;
        if (count > 0)
        {
            long last;
            try
            {
                last = v.Offset;
                for (int i = 0; i < v.Size.Length; i++) last = checked(last + (v.Size[i] - 1) * v.Stride[i]);
            }
            catch (OverflowException) { throw new WeightFormatException(path, name, "its size and strides reach past 64 bits of elements"); }
            if (last >= v.Storage.Count)
                throw new WeightFormatException(path, name, $"size [{string.Join(", ", v.Size)}], strides [{string.Join(", ", v.Stride)}] at offset {v.Offset} reach element {last}, past its storage '{v.Storage.Key}' of {v.Storage.Count}");
            // A contiguous tensor's bytes; for a strided view, the span of storage it covers (listed, never loaded).
            bytes = (Contiguous(v.Size, v.Stride) ? count : last - v.Offset + 1) * type.ElementSize;
        }
        else if (v.Offset > v.Storage.Count)
            throw new WeightFormatException(path, name, $"offset {v.Offset} lies past its storage '{v.Storage.Key}' of {v.Storage.Count}");
        return new TensorInfo(name, type.TorchName, type.DType, v.Size, path, v.Storage.Entry.DataOffset + v.Offset * type.ElementSize, bytes);
    }

    // torch's is_contiguous: row-major strides, ignoring dimensions of size 1; an empty tensor is contiguous.
    private static bool Contiguous(long[] size, long[] stride)
    {
        if (size.Contains(0)) return true;
        long expected = 1;
        for (int i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] == 1) continue;
            if (stride[i] != expected) return false;
            expected *= size[i];
        }
        return true;
    }
}
