using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Tessera.Formats.Safetensors;

/// <summary>Writes safetensors files as the Hugging Face library does: the JSON header padded with spaces to a multiple
/// of 8 bytes (so the data starts aligned), tensors packed back to back in the order given; and sharded checkpoints
/// with their <c>model.safetensors.index.json</c>.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes one file.</summary>
    public static void Write(string path, IReadOnlyList<WeightTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = new HashSet<string>();
        foreach (var t in tensors)
        {
            if (t.Name == "__metadata__" || !names.Add(t.Name)) throw new TesseraException($"{path}: duplicate or reserved tensor name '{t.Name}'");
            SafetensorsDTypes.FromDType(t.DType);
        }
        byte[] header = Header(tensors, metadata);
        try
        {
            using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            fs.Write(len);
            fs.Write(header);
            foreach (var t in tensors) fs.Write(t.TakeData(path).Span);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Writes a sharded checkpoint into <paramref name="directory"/>: shards named
    /// <c>{prefix}-00001-of-0000N.safetensors</c> of at most <paramref name="maxShardBytes"/> of data each (a larger
    /// tensor gets a shard of its own) and <c>{prefix}.safetensors.index.json</c> with <c>metadata.total_size</c> and the
    /// <c>weight_map</c>. Returns the index path.</summary>
    public static string WriteSharded(string directory, IReadOnlyList<WeightTensor> tensors, long maxShardBytes,
        string prefix = "model", IReadOnlyDictionary<string, string>? metadata = null)
    {
        var shards = new List<List<WeightTensor>> { new() };
        long size = 0, total = 0;
        foreach (var t in tensors)
        {
            long b = t.ByteLength;
            if (shards[^1].Count > 0 && size + b > maxShardBytes) { shards.Add([]); size = 0; }
            shards[^1].Add(t);
            size += b;
            total += b;
        }
        var map = new List<(string Tensor, string File)>();
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"{prefix}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(System.IO.Path.Combine(directory, file), shards[i], metadata);
            foreach (var t in shards[i]) map.Add((t.Name, file));
        }
        string index = System.IO.Path.Combine(directory, $"{prefix}.safetensors.index.json");
        using var fs = new FileStream(index, FileMode.Create, FileAccess.Write);
        using var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("metadata");
        w.WriteNumber("total_size", total);
        w.WriteEndObject();
        w.WriteStartObject("weight_map");
        foreach (var (t, f) in map) w.WriteString(t, f);
        w.WriteEndObject();
        w.WriteEndObject();
        return index;
    }

    private static byte[] Header(IReadOnlyList<WeightTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", SafetensorsDTypes.FromDType(t.DType));
                w.WriteStartArray("shape");
                foreach (long d in t.Dims) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += t.ByteLength;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
