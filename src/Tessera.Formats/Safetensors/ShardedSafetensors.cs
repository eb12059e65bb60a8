using System.Text.Json;

namespace Tessera.Formats.Safetensors;

/// <summary>A sharded safetensors checkpoint: <c>model.safetensors.index.json</c> (<c>{"metadata": {...},
/// "weight_map": {tensor: shard file}}</c>) and the shards beside it, each mapped once. Shard names must be plain file
/// names in the index's directory, and every mapped tensor must be in its shard.</summary>
public sealed class ShardedSafetensors : IWeightSource
{
    private readonly List<SafetensorsFile> _shards;
    private readonly Dictionary<string, SafetensorsFile> _owner;
    private readonly List<string> _names;

    private ShardedSafetensors(string path, List<SafetensorsFile> shards, Dictionary<string, SafetensorsFile> owner, List<string> names, Dictionary<string, object> metadata)
    {
        Path = path;
        _shards = shards;
        _owner = owner;
        _names = names;
        Metadata = metadata;
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public string Format => "safetensors (sharded)";

    /// <summary>The shards, in the order first named by the weight map.</summary>
    public IReadOnlyList<SafetensorsFile> Shards => _shards;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc/>
    public bool Contains(string name) => _owner.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _owner.TryGetValue(name, out var s) ? s.Info(name) : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public Tensor Load(string name, IBackend backend) =>
        _owner.TryGetValue(name, out var s) ? s.Load(name, backend) : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }

    /// <summary>Opens the index and every shard it names.</summary>
    public static ShardedSafetensors Open(string indexPath)
    {
        var bytes = File.ReadAllBytes(indexPath);
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new WeightFormatException(indexPath, null, "the index is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw new WeightFormatException(indexPath, null, $"the index is not valid JSON: {e.Message}", e); }
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, SafetensorsFile>();
        try
        {
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                    throw new WeightFormatException(indexPath, null, "the index has no \"weight_map\" object");
                var metadata = new Dictionary<string, object>();
                if (root.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object)
                    foreach (var p in md.EnumerateObject()) metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();

                var owner = new Dictionary<string, SafetensorsFile>();
                var names = new List<string>();
                foreach (var p in wm.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String) throw new WeightFormatException(indexPath, p.Name, "the weight_map entry is not a file name");
                    string file = p.Value.GetString()!;
                    if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                        throw new WeightFormatException(indexPath, p.Name, $"shard \"{file}\" is not a plain file name beside the index");
                    if (!shards.TryGetValue(file, out var shard))
                    {
                        string shardPath = System.IO.Path.Combine(dir, file);
                        if (!File.Exists(shardPath)) throw new WeightFormatException(indexPath, p.Name, $"shard \"{file}\" does not exist");
                        shards[file] = shard = SafetensorsFile.Open(shardPath);
                    }
                    if (!shard.Contains(p.Name)) throw new WeightFormatException(indexPath, p.Name, $"not found in its shard \"{file}\"");
                    if (!owner.TryAdd(p.Name, shard)) throw new WeightFormatException(indexPath, p.Name, "duplicate name in the weight_map");
                    names.Add(p.Name);
                }
                return new ShardedSafetensors(indexPath, shards.Values.ToList(), owner, names, metadata);
            }
        }
        catch
        {
            foreach (var s in shards.Values) s.Dispose();
            throw;
        }
    }
}
