using System.IO.Compression;
using System.Text;

namespace Tessera.Formats.Tests;

/// <summary>Writes PyTorch-style checkpoints without Python, byte for byte as <c>torch.save</c> lays them out (a zip of
/// stored members "{archive}/data.pkl", "{archive}/byteorder", "{archive}/data/{key}", and a protocol-2 pickle of an
/// OrderedDict of <c>_rebuild_tensor_v2</c> calls), so that the hostile-pickle and fuzz tests run everywhere.</summary>
internal static class PthTestWriter
{
    /// <summary>One tensor of the state dict: a view (<paramref name="Offset"/>, sizes, strides, in elements) of a storage.</summary>
    public sealed record View(string Name, string StorageType, string Key, long Numel, long Offset, long[] Size, long[] Stride);

    /// <summary>A zip archive as torch.save writes it: every member stored, uncompressed.</summary>
    public static void WriteArchive(string path, string archive, byte[] pickle, IEnumerable<(string Key, byte[] Data)> storages, bool byteorder = true)
    {
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        void Add(string name, byte[] data)
        {
            var e = zip.CreateEntry(archive + "/" + name, CompressionLevel.NoCompression);
            using var s = e.Open();
            s.Write(data);
        }
        Add("data.pkl", pickle);
        if (byteorder) Add("byteorder", "little"u8.ToArray());
        foreach (var (key, data) in storages) Add("data/" + key, data);
    }

    /// <summary>The pickle of <c>OrderedDict(name -&gt; tensor)</c> plus a nested dict <c>"extra": {"step": 17, "tag":
    /// "abc"}</c>, using the memo as torch's pickler does (BINPUT / BINGET for repeated globals).</summary>
    public static byte[] StateDictPickle(IReadOnlyList<View> views)
    {
        var p = new PickleBuilder();
        p.Op(0x80).Op(2);
        p.Global("collections", "OrderedDict").Put(0).Op(')').Op('R').Put(1);
        p.Op('(');
        bool first = true;
        foreach (var v in views)
        {
            p.Str(v.Name);
            if (first) p.Global("torch._utils", "_rebuild_tensor_v2").Put(2); else p.Get(2);
            p.Op('(');
            p.Op('(').Str("storage").Global("torch", v.StorageType).Str(v.Key).Str("cpu").Int(v.Numel).Op('t').Op('Q');
            p.Int(v.Offset).Tuple(v.Size).Tuple(v.Stride).Op(0x89);
            p.Get(0).Op(')').Op('R'); // backward_hooks = OrderedDict()
            p.Op('t').Op('R');
            first = false;
        }
        p.Str("extra").Op('}').Op('(').Str("step").Int(17).Str("tag").Str("abc").Op('u');
        p.Op('u').Op('.');
        return p.ToArray();
    }

    /// <summary>A small checkpoint: f32 [3, 7], f16 [17] at offset 3 of a shared storage, bf16 [5], a transposed
    /// f32 view (non-contiguous), i64 [2]; with their storages.</summary>
    public static void WriteSample(string path)
    {
        var rng = new Random(5);
        byte[] Bytes(int n) { var b = new byte[n]; rng.NextBytes(b); return b; }
        var views = new List<View>
        {
            new("layer.weight", "FloatStorage", "0", 21, 0, [3, 7], [7, 1]),
            new("layer.bias", "HalfStorage", "1", 33, 3, [17], [1]),
            new("layer.scale", "HalfStorage", "1", 33, 20, [13], [1]),
            new("norm.weight", "BFloat16Storage", "2", 5, 0, [5], [1]),
            new("proj.t", "FloatStorage", "0", 21, 0, [7, 3], [1, 7]),
            new("ids", "LongStorage", "3", 2, 0, [2], [1]),
        };
        WriteArchive(path, "sample", StateDictPickle(views), [("0", Bytes(84)), ("1", Bytes(66)), ("2", Bytes(10)), ("3", Bytes(16))]);
    }

    /// <summary>Pickle opcodes written by hand.</summary>
    public sealed class PickleBuilder
    {
        private readonly List<byte> _b = [];

        public PickleBuilder Op(int op) { _b.Add((byte)op); return this; }

        public PickleBuilder Raw(ReadOnlySpan<byte> bytes) { _b.AddRange(bytes.ToArray()); return this; }

        public PickleBuilder Global(string module, string name) => Op('c').Raw(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));

        public PickleBuilder Str(string s)
        {
            var b = Encoding.UTF8.GetBytes(s);
            return Op('X').Raw(BitConverter.GetBytes(b.Length)).Raw(b);
        }

        public PickleBuilder Int(long v) =>
            v is >= 0 and < 256 ? Op('K').Op((int)v)
            : v is >= int.MinValue and <= int.MaxValue ? Op('J').Raw(BitConverter.GetBytes((int)v))
            : Op(0x8a).Op(8).Raw(BitConverter.GetBytes(v));

        public PickleBuilder Tuple(long[] values)
        {
            Op('(');
            foreach (long v in values) Int(v);
            return Op('t');
        }

        public PickleBuilder Put(int i) => Op('q').Op(i);

        public PickleBuilder Get(int i) => Op('h').Op(i);

        public byte[] ToArray() => [.. _b];
    }
}
