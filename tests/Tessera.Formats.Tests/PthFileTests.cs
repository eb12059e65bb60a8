using System.IO.Compression;
using System.Runtime.InteropServices;
using Tessera.Cpu;
using Tessera.Formats.Pytorch;
using Tessera.Formats.Safetensors;

namespace Tessera.Formats.Tests;

/// <summary>PyTorch checkpoints written here byte for byte as torch.save lays them out (no Python needed): names,
/// dtypes, shapes, shared storages and offsets, strides, metadata, zero-copy values; and the archives and pickles a
/// checkpoint reader must refuse, each with a message naming the problem.</summary>
public class PthFileTests
{
    [Fact]
    public void SampleCheckpointListsAndLoadsEveryTensor()
    {
        using var dir = new TempDir();
        string p = dir.File("sample.pth");
        PthTestWriter.WriteSample(p);
        byte[] file = File.ReadAllBytes(p);
        Assert.Equal("pth", WeightFile.Detect(p));

        using var src = Assert.IsType<PthFile>(WeightFile.Open(p));
        Assert.Equal("pth", src.Format);
        Assert.Equal("sample", src.ArchiveName);
        Assert.Equal(["layer.weight", "layer.bias", "layer.scale", "norm.weight", "proj.t", "ids"], src.Names);
        Assert.Equal("17", src.TextMetadata["extra.step"]);
        Assert.Equal("abc", src.TextMetadata["extra.tag"]);

        var expect = new (string Name, string Type, DType DType, long[] Dims)[]
        {
            ("layer.weight", "float32", DType.F32, [3, 7]), ("layer.bias", "float16", DType.F16, [17]),
            ("layer.scale", "float16", DType.F16, [13]), ("norm.weight", "bfloat16", DType.BF16, [5]), ("ids", "int64", DType.I64, [2]),
        };
        foreach (var (name, type, dtype, dims) in expect)
        {
            var info = src.Info(name);
            Assert.Equal(type, info.TypeName);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(dims, info.Dims);
            Assert.True(src.IsContiguous(name));
            using var t = src.Load(name, CpuBackend.Default);
            Assert.Equal(dtype, t.DType);
            Assert.Equal(info.ToShape(), t.Shape);
            var bytes = new byte[info.ByteLength];
            t.Backend.CopyToHost(t.Storage, 0, bytes);
            Assert.Equal(file.AsSpan((int)info.Offset, (int)info.ByteLength).ToArray(), bytes);
        }

        // The f16 tensors share storage '1' at element offsets 3 and 20: the second starts 34 bytes after the first.
        Assert.Equal(("1", 3L), src.StorageOf("layer.bias"));
        Assert.Equal(src.Info("layer.bias").Offset + 34, src.Info("layer.scale").Offset);
        Assert.Equal(src.Info("layer.weight").Offset, src.Info("proj.t").Offset);
    }

    [Fact]
    public void DirectoryWithPytorchModelBinOpensIt()
    {
        using var dir = new TempDir();
        PthTestWriter.WriteSample(dir.File("pytorch_model.bin"));
        using (var src = WeightFile.Open(dir.Path))
            Assert.Equal("pth", src.Format);
        // A safetensors file beside it is preferred, as Hugging Face's loaders do.
        SafetensorsWriter.Write(dir.File("model.safetensors"), RoundTripTests.PlainTensors(), new Dictionary<string, string>());
        using (var src = WeightFile.Open(dir.Path))
            Assert.Equal("safetensors", src.Format);
    }

    [Fact]
    public void NonContiguousViewIsListedButNotLoaded()
    {
        using var dir = new TempDir();
        string p = dir.File("sample.pth");
        PthTestWriter.WriteSample(p);
        using var src = WeightFile.Open(p);
        var pth = (PthFile)src;
        Assert.False(pth.IsContiguous("proj.t"));
        Assert.Equal([1L, 7L], pth.Strides("proj.t"));
        Assert.Equal([7L, 3L], src.Info("proj.t").Dims);
        var e = Assert.Throws<WeightFormatException>(() => src.Load("proj.t", CpuBackend.Default));
        Assert.Equal("proj.t", e.Tensor);
        Assert.Contains("non-contiguous", e.Message);
        Assert.Contains("[1, 7]", e.Message);
    }

    [Fact]
    public unsafe void LoadedTensorsAreViewsOfTheMapping()
    {
        using var dir = new TempDir();
        string p = dir.File("sample.pth");
        PthTestWriter.WriteSample(p);
        byte[] file = File.ReadAllBytes(p);
        Tensor bias, scale;
        long biasOffset;
        using (var src = WeightFile.Open(p))
        {
            bias = src.Load("layer.bias", CpuBackend.Default);
            scale = src.Load("layer.scale", CpuBackend.Default);
            biasOffset = src.Info("layer.bias").Offset;
        }
        using (bias)
        using (scale)
        {
            // Two tensors of one storage, 20 - 3 = 17 halves apart: in place over one mapping, not copies.
            var b = Assert.IsType<HostStorage>(bias.Storage);
            var s = Assert.IsType<HostStorage>(scale.Storage);
            Assert.Equal(34, (long)((byte*)s.Pointer - (byte*)b.Pointer));
            Assert.True(b.IsConstant);
            // The tensors keep the mapping alive after the source is disposed.
            Assert.Equal(MemoryMarshal.Cast<byte, Half>(file.AsSpan((int)biasOffset, 34)).ToArray(), bias.ToArray<Half>());
        }
    }

    /// <summary>The checkpoint is a valid archive; only the pickle is hostile.</summary>
    private static WeightFormatException Refused(byte[] pickle)
    {
        using var dir = new TempDir();
        string p = dir.File("hostile.pth");
        PthTestWriter.WriteArchive(p, "hostile", pickle, [("0", new byte[16])]);
        return Assert.Throws<WeightFormatException>(() => WeightFile.Open(p));
    }

    private static PthTestWriter.PickleBuilder Proto() => new PthTestWriter.PickleBuilder().Op(0x80).Op(2);

    [Fact]
    public void GlobalsOutsideTheAllowListAreRefusedByName()
    {
        string marker = Path.Combine(Path.GetTempPath(), $"tessera-pwned-{Guid.NewGuid():N}");
        foreach (var (module, name) in new[] { ("posix", "system"), ("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load"), ("__main__", "Net") })
        {
            var pickle = Proto().Global(module, name).Str($"touch {marker}").Op(0x85).Op('R').Op('.').ToArray();
            var e = Refused(pickle);
            Assert.Contains($"'{module}.{name}'", e.Message);
            Assert.Contains("refused", e.Message);
        }
        // STACK_GLOBAL names the callable with two strings instead.
        var stacked = Proto().Str("os").Str("system").Op(0x93).Str($"touch {marker}").Op(0x85).Op('R').Op('.').ToArray();
        Assert.Contains("'os.system'", Refused(stacked).Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void OpcodesOutsideTheDataSetAreRefused()
    {
        Assert.Contains("unknown opcode", Refused(Proto().Op('}').Op(0xff).Op('.').ToArray()).Message);
        // INST and OBJ would call a class; EXT1 reaches the copyreg registry; the text protocol's INT is never written by torch.
        Assert.Contains("INST", Refused(Proto().Op('(').Raw("ios\nsystem\n"u8).Op('.').ToArray()).Message);
        Assert.Contains("OBJ", Refused(Proto().Op('(').Op('}').Op('o').Op('.').ToArray()).Message);
        Assert.Contains("EXT1", Refused(Proto().Op(0x82).Op(1).Op('.').ToArray()).Message);
        Assert.Contains("INT", Refused(Proto().Raw("I1\n"u8).Op('.').ToArray()).Message);
        Assert.Contains("protocol 9", Refused(new PthTestWriter.PickleBuilder().Op(0x80).Op(9).Op('}').Op('.').ToArray()).Message);
    }

    [Fact]
    public void MalformedPicklesNameTheProblem()
    {
        Assert.Contains("without a STOP", Refused(Proto().Op('}').ToArray()).Message);
        Assert.Contains("stack is empty", Refused(Proto().Op('0').Op('.').ToArray()).Message);
        Assert.Contains("never stored", Refused(Proto().Get(7).Op('.').ToArray()).Message);
        Assert.Contains("truncated", Refused(Proto().Op('X').Raw(BitConverter.GetBytes(1 << 30)).Op('.').ToArray()).Message);
        Assert.Contains("64 bits", Refused(Proto().Op(0x8a).Op(9).Raw(new byte[9]).Op('.').ToArray()).Message);
        Assert.Contains("not a dict of tensors", Refused(Proto().Op(']').Op('.').ToArray()).Message);
        Assert.Contains("onto a", Refused(Proto().Op(']').Op('K').Op(1).Op('K').Op(2).Op('s').Op('.').ToArray()).Message);
        // A persistent id for a storage member that the archive lacks, and a tensor reaching past its storage.
        var missing = new PthTestWriter.View("w", "FloatStorage", "9", 4, 0, [4], [1]);
        Assert.Contains("has no member", Refused(PthTestWriter.StateDictPickle([missing])).Message);
        var tooBig = new PthTestWriter.View("w", "FloatStorage", "0", 4, 2, [3], [1]);
        var e = Refused(PthTestWriter.StateDictPickle([tooBig]));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("past its storage", e.Message);
        var claims = new PthTestWriter.View("w", "FloatStorage", "0", 5, 0, [5], [1]); // 20 bytes claimed, 16 stored
        Assert.Contains("claims 5 float32 elements", Refused(PthTestWriter.StateDictPickle([claims])).Message);
    }

    [Fact]
    public void ACyclicContainerIsBounded()
    {
        // l = []; l.append(l); {"x": l}: the flattening must stop, not recurse forever.
        var pickle = Proto().Op('}').Str("x").Op(']').Put(0).Get(0).Op('a').Op('s').Op('.').ToArray();
        Assert.Contains("nested deeper", Refused(pickle).Message);
    }

    [Fact]
    public void ArchivesThatAreNotPlainCheckpointsAreRefused()
    {
        using var dir = new TempDir();
        string p = dir.File("c.pth");
        string Msg() => Assert.Throws<WeightFormatException>(() => WeightFile.Open(p)).Message;

        // The legacy format: a bare pickle stream beginning with torch's magic number.
        File.WriteAllBytes(p, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        Assert.Contains("legacy", Msg());

        using (var fs = File.Create(p))
        using (var zip = new ZipArchive(fs, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("c/data.pkl", CompressionLevel.Optimal).Open())
            s.Write(new byte[200]);
        Assert.Contains("compressed", Msg());

        PthTestWriter.WriteArchive(p, "c", Proto().Op('}').Op('.').ToArray(), []);
        using (var empty = WeightFile.Open(p)) Assert.Empty(empty.Names);

        using (var fs = File.Create(p))
        using (var zip = new ZipArchive(fs, ZipArchiveMode.Create))
            foreach (var n in new[] { "m/data.pkl", "m/constants.pkl", "m/code/__torch__.py" })
                using (var s = zip.CreateEntry(n, CompressionLevel.NoCompression).Open()) s.Write("x"u8);
        Assert.Contains("TorchScript", Msg());

        using (var fs = File.Create(p))
        using (var zip = new ZipArchive(fs, ZipArchiveMode.Create))
            using (var s = zip.CreateEntry("m/weights.npy", CompressionLevel.NoCompression).Open()) s.Write("x"u8);
        Assert.Contains("without 'm/data.pkl'", Msg());

        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..^10]);
        Assert.Contains("end-of-central-directory", Msg());
    }

    [Fact]
    public void ZipDirectoryEntriesThatLieAreRefused()
    {
        using var dir = new TempDir();
        string p = dir.File("z.pth");
        PthTestWriter.WriteSample(p);
        byte[] valid = File.ReadAllBytes(p);
        // The central directory entry of a member: its 46-byte fixed header precedes the name's last occurrence.
        int Central(string name) => valid.AsSpan().LastIndexOf(System.Text.Encoding.UTF8.GetBytes(name)) - 46;
        string Msg(Action<byte[]> patch)
        {
            var d = (byte[])valid.Clone();
            patch(d);
            File.WriteAllBytes(p, d);
            return Assert.Throws<WeightFormatException>(() => WeightFile.Open(p)).Message;
        }
        void Size(byte[] d, int at, uint v) { BitConverter.GetBytes(v).CopyTo(d, at + 20); BitConverter.GetBytes(v).CopyTo(d, at + 24); }

        Assert.Contains("encrypted", Msg(d => d[Central("sample/data/1") + 8] |= 1));
        Assert.Contains("compressed (method 8)", Msg(d => d[Central("sample/data/1") + 10] = 8));
        Assert.Contains("overlap", Msg(d => Size(d, Central("sample/data/0"), 200)));
        Assert.Contains("runs into the directory", Msg(d => Size(d, Central("sample/data/3"), 1u << 30)));
        Assert.Contains("names another entry", Msg(d => BitConverter.GetBytes(BitConverter.ToUInt32(d, Central("sample/data/0") + 42)).CopyTo(d, Central("sample/data/1") + 42)));
        Assert.Contains("no local header", Msg(d => BitConverter.GetBytes(3u).CopyTo(d, Central("sample/data/1") + 42)));
        Assert.Contains("entries cannot fit", Msg(d => { BitConverter.GetBytes((ushort)60000).CopyTo(d, d.Length - 14); BitConverter.GetBytes((ushort)60000).CopyTo(d, d.Length - 12); }));
        Assert.Contains("multi-disk", Msg(d => BitConverter.GetBytes((ushort)7).CopyTo(d, d.Length - 12)));
    }

    [Fact]
    public void ZipDirectoryGivesStoredMembersInPlace()
    {
        using var dir = new TempDir();
        string p = dir.File("z.pth");
        var data = Enumerable.Range(0, 65).Select(i => (byte)i).ToArray();
        PthTestWriter.WriteArchive(p, "z", [0x80, 2, (byte)'}', (byte)'.'], [("0", data)]);
        using var map = MappedFile.Open(p);
        var entries = ZipDirectory.Read(map);
        Assert.Equal(["z/data.pkl", "z/byteorder", "z/data/0"], entries.Select(e => e.Name));
        var e = entries[2];
        Assert.Equal(65, e.Length);
        Assert.Equal(data, File.ReadAllBytes(p).AsSpan((int)e.DataOffset, 65).ToArray());
    }

    private static byte[] Bytes(Tensor t)
    {
        var b = new byte[t.DType.ByteCount(t.ElementCount)];
        t.Backend.CopyToHost(t.Storage, 0, b);
        return b;
    }

    [Fact]
    public void Zip64ArchivesReadAsPlainOnes()
    {
        using var dir = new TempDir();
        string plain = dir.File("plain.pth"), zip64 = dir.File("zip64.pth");
        var (pickle, storages) = PthTestWriter.Sample();
        PthTestWriter.WriteArchive(plain, "sample", pickle, storages);
        PthTestWriter.WriteZip64Archive(zip64, "sample", pickle, storages);
        using var a = WeightFile.Open(plain);
        using var b = WeightFile.Open(zip64);
        Assert.Equal(a.Names, b.Names);
        foreach (var n in a.Names.Where(n => n != "proj.t"))
        {
            using var x = a.Load(n, CpuBackend.Default);
            using var y = b.Load(n, CpuBackend.Default);
            Assert.Equal(Bytes(x), Bytes(y));
        }
    }

    [Fact]
    public void PickleScalarsAndContainersReadAsPythonBuildsThem()
    {
        // {"a": (1, -2, 300, 70000, -5000000000, 1.5, None, True, False, "é", b"xy"), "b": [3, 4], "c": {1: 2}}
        var p = Proto().Op('}').Op('(')
            .Str("a").Op('(').Int(1).Int(-2).Op('M').Raw(BitConverter.GetBytes((ushort)300)).Int(70000).Int(-5000000000)
            .Op('G').Raw(BitConverter.GetBytes(1.5).Reverse().ToArray()).Op('N').Op(0x88).Op(0x89).Op(0x8c).Op(2).Raw("é"u8)
            .Op('C').Op(2).Raw("xy"u8).Op('t')
            .Str("b").Op(']').Op('(').Int(3).Int(4).Op('e')
            .Str("c").Op('}').Int(1).Int(2).Op('s')
            .Op('u').Op('.').ToArray();
        var root = Assert.IsType<PyDict>(PickleMachine.Run("t", p, (_, fail) => throw fail("no storages")));
        var a = Assert.IsType<PyTuple>(root.Items[0].Value).Items;
        Assert.Equal(new object?[] { 1L, -2L, 300L, 70000L, -5000000000L, 1.5, null, true, false, "é" }, a[..10]);
        Assert.Equal("xy"u8.ToArray(), a[10]);
        Assert.Equal(new object?[] { 3L, 4L }, Assert.IsType<PyList>(root.Items[1].Value));
        Assert.Equal(2L, Assert.IsType<PyDict>(root.Items[2].Value).Items[0].Value);
        // A tuple holding bytes is not all scalars: flattened by index, the bytes skipped.
        var (_, meta) = PthStateDict.Flatten("t", root);
        Assert.Equal(["1", "-2", "300", "70000", "-5000000000", "1.5", "None", "True", "False", "é"], Enumerable.Range(0, 10).Select(i => meta[$"a.{i}"]));
        Assert.False(meta.ContainsKey("a.10"));
        Assert.Equal("[3, 4]", meta["b"]);
        Assert.Equal("2", meta["c.1"]);
    }
}
