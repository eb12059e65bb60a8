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

    /// <summary>The same archive with every size and offset in zip64 form (0xFFFFFFFF in the 32-bit fields, the values
    /// in zip64 extra fields, a zip64 end record and locator), as zip writers lay out archives past 4 GiB.</summary>
    public static void WriteZip64Archive(string path, string archive, byte[] pickle, IEnumerable<(string Key, byte[] Data)> storages)
    {
        var members = new List<(string Name, byte[] Data)> { (archive + "/data.pkl", pickle), (archive + "/byteorder", "little"u8.ToArray()) };
        members.AddRange(storages.Select(s => (archive + "/data/" + s.Key, s.Data)));
        var f = new List<byte>();
        void U16(int v) => f.AddRange(BitConverter.GetBytes((ushort)v));
        void U32(uint v) => f.AddRange(BitConverter.GetBytes(v));
        void U64(long v) => f.AddRange(BitConverter.GetBytes(v));
        var offsets = new List<long>();
        foreach (var (name, data) in members)
        {
            offsets.Add(f.Count);
            U32(0x04034b50); U16(45); U16(0); U16(0); U32(0); U32(Crc32(data)); U32(uint.MaxValue); U32(uint.MaxValue);
            U16(Encoding.UTF8.GetByteCount(name)); U16(20);
            f.AddRange(Encoding.UTF8.GetBytes(name));
            U16(1); U16(16); U64(data.Length); U64(data.Length);
            f.AddRange(data);
        }
        long cd = f.Count;
        for (int i = 0; i < members.Count; i++)
        {
            var (name, data) = members[i];
            U32(0x02014b50); U16(45); U16(45); U16(0); U16(0); U32(0); U32(Crc32(data)); U32(uint.MaxValue); U32(uint.MaxValue);
            U16(Encoding.UTF8.GetByteCount(name)); U16(28); U16(0); U16(0); U16(0); U32(0); U32(uint.MaxValue);
            f.AddRange(Encoding.UTF8.GetBytes(name));
            U16(1); U16(24); U64(data.Length); U64(data.Length); U64(offsets[i]);
        }
        long cdSize = f.Count - cd, end64 = f.Count;
        U32(0x06064b50); U64(44); U16(45); U16(45); U32(0); U32(0); U64(members.Count); U64(members.Count); U64(cdSize); U64(cd);
        U32(0x07064b50); U32(0); U64(end64); U32(1);
        U32(0x06054b50); U16(0); U16(0); U16(0xFFFF); U16(0xFFFF); U32(uint.MaxValue); U32(uint.MaxValue); U16(0);
        File.WriteAllBytes(path, [.. f]);
    }

    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320 : c >> 1;
        }
        return ~c;
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
        var (pickle, storages) = Sample();
        WriteArchive(path, "sample", pickle, storages);
    }

    /// <summary>The sample's pickle and storages.</summary>
    public static (byte[] Pickle, (string Key, byte[] Data)[] Storages) Sample()
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
        return (StateDictPickle(views), [("0", Bytes(84)), ("1", Bytes(66)), ("2", Bytes(10)), ("3", Bytes(16))]);
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
