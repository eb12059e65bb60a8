using System.Buffers.Binary;
using System.Text;

namespace Tessera.Formats.Gguf;

/// <summary>Writes GGUF version 3 files as ggml's <c>gguf_write_to_file</c> lays them out: header, metadata, tensor
/// infos (dims innermost first), padding to the alignment, then each tensor's data padded to the alignment, with
/// offsets relative to the data section. The alignment is <c>general.alignment</c> when that key is set (uint32).</summary>
public sealed class GgufWriter
{
    /// <summary>ggml's GGML_MAX_NAME is 64 bytes including the terminating zero.</summary>
    public const int MaxNameBytes = 63;

    private readonly List<(string Key, GgufValue Value)> _kv = [];
    private readonly List<(string Name, uint Type, long[] Dims, long Bytes, Func<ReadOnlyMemory<byte>> Data)> _tensors = [];
    private readonly HashSet<string> _keys = [], _names = [];

    /// <summary>Adds a metadata key (keys keep their order; a duplicate throws).</summary>
    public GgufWriter Add(string key, GgufValue value)
    {
        if (!_keys.Add(key)) throw new TesseraException($"GGUF metadata key '{key}' added twice");
        if (key == "general.alignment" && (value.Type != GgufType.UInt32 || (uint)value.Value == 0 || ((uint)value.Value & ((uint)value.Value - 1)) != 0))
            throw new TesseraException($"general.alignment must be a uint32 power of two, got {value.Type} {value}");
        _kv.Add((key, value));
        return this;
    }

    /// <summary>Adds a tensor of a Tessera dtype (see <see cref="GgmlTypes.FromDType"/>).</summary>
    public GgufWriter AddTensor(WeightTensor t) => AddTensor(t.Name, GgmlTypes.FromDType(t.DType), t.Dims, t.Data);

    /// <summary>Adds a tensor of any ggml type, its bytes given by <paramref name="data"/> when the file is written.
    /// <paramref name="dims"/> are outermost first; the innermost must be a multiple of the type's block size.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dims, Func<ReadOnlyMemory<byte>> data)
    {
        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes) throw new TesseraException($"GGUF tensor name '{name}' is longer than ggml's {MaxNameBytes} bytes");
        if (!_names.Add(name)) throw new TesseraException($"GGUF tensor '{name}' added twice");
        if (dims.Length > GgufFile.MaxDims) throw new TesseraException($"GGUF tensor '{name}' has {dims.Length} dimensions; ggml allows {GgufFile.MaxDims}");
        var traits = GgmlTypes.Traits((uint)type) ?? throw new TesseraException($"unknown ggml type {type}");
        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new TesseraException($"GGUF tensor '{name}' has a negative dimension");
            count = checked(count * d);
        }
        if (dims.Length > 0 && dims[^1] % traits.BlockSize != 0)
            throw new TesseraException($"GGUF tensor '{name}': the inner dimension {dims[^1]} is not a multiple of the {GgmlTypes.Name((uint)type)} block size {traits.BlockSize}");
        _tensors.Add((name, (uint)type, dims, count / traits.BlockSize * traits.TypeSize, data));
        return this;
    }

    /// <summary>Writes the file (deleting it again if a producer fails).</summary>
    public void Write(string path)
    {
        int alignment = _kv.FirstOrDefault(kv => kv.Key == "general.alignment").Value is { } a ? (int)(uint)a.Value : GgufFile.DefaultAlignment;
        try
        {
            using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
            w.Write(GgufFile.Magic);
            w.Write(3u);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_kv.Count);
            foreach (var (key, value) in _kv)
            {
                WriteString(w, key);
                w.Write((uint)value.Type);
                WriteValue(w, value);
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Dims.Length);
                for (int d = t.Dims.Length - 1; d >= 0; d--) w.Write((ulong)t.Dims[d]); // ggml's ne: innermost first
                w.Write(t.Type);
                w.Write((ulong)offset);
                offset += Pad(t.Bytes, alignment);
            }
            w.Flush();
            WriteZeros(fs, Pad(fs.Position, alignment) - fs.Position);
            foreach (var t in _tensors)
            {
                var data = t.Data();
                if (data.Length != t.Bytes)
                    throw new TesseraException($"{path}: tensor '{t.Name}' ({GgmlTypes.Name(t.Type)} [{string.Join(", ", t.Dims)}]) needs {t.Bytes} bytes, its producer gave {data.Length}");
                fs.Write(data.Span);
                WriteZeros(fs, Pad(t.Bytes, alignment) - t.Bytes);
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private static long Pad(long n, int alignment) => (n + alignment - 1) / alignment * alignment;

    private static void WriteZeros(Stream s, long n)
    {
        Span<byte> z = stackalloc byte[256];
        z.Clear();
        while (n > 0) { int k = (int)Math.Min(n, z.Length); s.Write(z[..k]); n -= k; }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        if (v.Type != GgufType.Array) { WriteScalar(w, v.Value); return; }
        w.Write((uint)v.ElementType);
        var arr = (Array)v.Value;
        w.Write((ulong)arr.Length);
        switch (arr)
        {
            case byte[] a: w.Write(a); break;
            case GgufValue[] nested: foreach (var n in nested) WriteValue(w, n); break;
            default: foreach (var o in arr) WriteScalar(w, o!); break;
        }
    }

    private static void WriteScalar(BinaryWriter w, object o)
    {
        switch (o)
        {
            case byte x: w.Write(x); break;
            case sbyte x: w.Write(x); break;
            case ushort x: w.Write(x); break;
            case short x: w.Write(x); break;
            case uint x: w.Write(x); break;
            case int x: w.Write(x); break;
            case float x: w.Write(x); break;
            case bool x: w.Write((byte)(x ? 1 : 0)); break;
            case string x: WriteString(w, x); break;
            case ulong x: w.Write(x); break;
            case long x: w.Write(x); break;
            case double x: w.Write(x); break;
            default: throw new TesseraException($"no GGUF type for a {o.GetType().Name}");
        }
    }
}
