using System.Runtime.InteropServices;
using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Safetensors;
using Tessera.Quant;

namespace Tessera.Formats.Tests;

public class RoundTripTests
{
    private static readonly IBackend Cpu = CpuBackend.Default;

    internal static List<WeightTensor> PlainTensors()
    {
        var rng = new Random(7);
        float[] f32 = Enumerable.Range(0, 6 * 5).Select(i => (float)rng.NextDouble() - 0.5f).ToArray();
        Half[] f16 = Enumerable.Range(0, 3 * 4 * 2).Select(i => (Half)(i * 0.25f - 2)).ToArray();
        BFloat16[] bf16 = Enumerable.Range(0, 17).Select(i => BFloat16.FromSingle(i * 1.5f)).ToArray();
        return
        [
            WeightTensor.FromValues("model.embed.weight", [6, 5], f32),
            WeightTensor.FromValues("layers.0.norm.weight", [3, 4, 2], f16),
            WeightTensor.FromValues("odd.bf16", [17], bf16),
            WeightTensor.FromValues("ids.i8", [2, 3], new sbyte[] { -128, -1, 0, 1, 2, 127 }),
            WeightTensor.FromValues("mask.u8", [4], new byte[] { 0, 1, 1, 0 }),
            WeightTensor.FromValues("pos.i32", [3], new[] { 0, int.MaxValue, int.MinValue }),
            WeightTensor.FromValues("pos.i64", [1, 2], new[] { long.MinValue, 42L }),
            WeightTensor.FromValues("scalar", [], new[] { 3.5f }),
            WeightTensor.FromValues("empty", [0, 4], Array.Empty<float>()),
        ];
    }

    private static byte[] BytesOf(Tensor t)
    {
        var b = new byte[t.DType.ByteCount(t.ElementCount)];
        t.Backend.CopyToHost(t.Storage, t.DType.ByteCount(t.Offset), b);
        return b;
    }

    private static void AssertSame(IWeightSource src, IReadOnlyList<WeightTensor> expected)
    {
        Assert.Equal(expected.Select(t => t.Name), src.Names);
        foreach (var e in expected)
        {
            Assert.True(src.Contains(e.Name));
            var info = src.Info(e.Name);
            Assert.Equal(e.DType, info.DType);
            Assert.Equal(e.Dims, info.Dims);
            using var t = src.Load(e.Name, Cpu);
            Assert.Equal(e.DType, t.DType);
            Assert.Equal(e.Dims.Select(d => (int)d).ToArray(), t.Shape.Dims.ToArray());
            Assert.Equal(e.Data().ToArray(), BytesOf(t));
        }
        Assert.False(src.Contains("nope"));
        Assert.Throws<KeyNotFoundException>(() => src.Info("nope"));
    }

    [Fact]
    public void SafetensorsRoundTrip()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        var tensors = PlainTensors();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" };
        SafetensorsWriter.Write(path, tensors, meta);
        var raw = File.ReadAllBytes(path);
        long headerLen = BitConverter.ToInt64(raw, 0);
        Assert.Equal(0, headerLen % 8); // padded as the HF library pads
        using var src = WeightFile.Open(path);
        Assert.Equal("safetensors", src.Format);
        Assert.Equal("pt", src.Metadata["format"]);
        Assert.Equal("ünïcode", src.Metadata["note"]);
        AssertSame(src, tensors);
    }

    [Fact]
    public void ShardedSafetensorsRoundTrip()
    {
        using var dir = new TempDir();
        var tensors = PlainTensors();
        string index = SafetensorsWriter.WriteSharded(dir.Path, tensors, maxShardBytes: 64);
        Assert.True(Directory.GetFiles(dir.Path, "model-*-of-*.safetensors").Length > 2);
        using var src = WeightFile.Open(index);
        Assert.Equal("safetensors (sharded)", src.Format);
        AssertSame(src, tensors);
        using var viaDir = WeightFile.Open(dir.Path);
        Assert.Equal(tensors.Count, viaDir.Names.Count);
    }

    [Fact]
    public void ShardIndexPathTraversalIsRefused()
    {
        using var dir = new TempDir();
        string index = dir.File("model.safetensors.index.json");
        File.WriteAllText(index, "{\"weight_map\": {\"a\": \"../etc/passwd\"}}");
        var e = Assert.Throws<WeightFormatException>(() => WeightFile.Open(index));
        Assert.Contains("plain file name", e.Message);
        File.WriteAllText(index, "{\"weight_map\": {\"a\": \"missing.safetensors\"}}");
        Assert.Throws<WeightFormatException>(() => WeightFile.Open(index));
    }

    internal static List<(string Key, GgufValue Value)> EveryMetadataValue() =>
    [
        ("general.architecture", GgufValue.From("llama")),
        ("u8", GgufValue.From((byte)255)), ("i8", GgufValue.From((sbyte)-128)),
        ("u16", GgufValue.From((ushort)65535)), ("i16", GgufValue.From((short)-32768)),
        ("u32", GgufValue.From(uint.MaxValue)), ("i32", GgufValue.From(int.MinValue)),
        ("f32", GgufValue.From(float.NaN)), ("bool", GgufValue.From(false)),
        ("str", GgufValue.From("")), ("u64", GgufValue.From(ulong.MaxValue)),
        ("i64", GgufValue.From(long.MinValue)), ("f64", GgufValue.From(double.NegativeInfinity)),
        ("a.u8", GgufValue.Array(new byte[] { 1, 2 })), ("a.i8", GgufValue.Array(new sbyte[] { -1 })),
        ("a.u16", GgufValue.Array(new ushort[] { 9 })), ("a.i16", GgufValue.Array(new short[] { -9, 9 })),
        ("a.u32", GgufValue.Array(new uint[] { 7 })), ("a.i32", GgufValue.Array(Array.Empty<int>())),
        ("a.f32", GgufValue.Array(new[] { 1.5f, -0f })), ("a.bool", GgufValue.Array(new[] { true, false, true })),
        ("a.str", GgufValue.Array(new[] { "tok", "", "✓" })), ("a.u64", GgufValue.Array(new ulong[] { 3 })),
        ("a.i64", GgufValue.Array(new long[] { -3 })), ("a.f64", GgufValue.Array(new[] { 0.1 })),
        ("a.nested", GgufValue.Array([GgufValue.Array(new[] { "merges", "x" }), GgufValue.Array([GgufValue.Array(new[] { 1, 2 })]), GgufValue.Array(Array.Empty<float>())])),
    ];

    internal static GgufWriter EveryMetadataType(GgufWriter w)
    {
        foreach (var (k, v) in EveryMetadataValue()) w.Add(k, v);
        return w;
    }

    [Fact]
    public void GgufRoundTripEveryMetadataAndTensorType()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        var w = EveryMetadataType(new GgufWriter());
        var expected = new List<(string Name, GgmlType Type, long[] Dims, byte[] Bytes)>();
        var rng = new Random(3);
        foreach (GgmlType type in Enum.GetValues<GgmlType>())
        {
            var (bs, ts) = GgmlTypes.Traits((uint)type)!.Value;
            long[] dims = [2, 3, bs * 2];
            var bytes = new byte[2 * 3 * 2 * ts];
            if (GgmlTypes.ToDType((uint)type) is { } dt && BlockQuant.CanQuantize(dt))
                BlockQuant.Quantize(dt, LlamaCppCrossCheckTests.HardData(2 * 3 * bs * 2, 5), bytes);
            else rng.NextBytes(bytes);
            string name = $"t.{GgmlTypes.Name((uint)type)}";
            expected.Add((name, type, dims, bytes));
            w.AddTensor(name, type, dims, () => bytes);
        }
        w.Write(path);

        using var f = (GgufFile)WeightFile.Open(path);
        var written = EveryMetadataValue();
        Assert.Equal(3u, f.Version);
        Assert.Equal(32, f.Alignment);
        Assert.Equal(written.Select(kv => kv.Key), f.Keys);
        foreach (var (key, value) in written) Assert.True(f.Values[key].ContentEquals(value), key);
        Assert.Equal(expected.Select(e => e.Name), f.Names);
        foreach (var e in expected)
        {
            var info = f.Info(e.Name);
            Assert.Equal(e.Dims, info.Dims);
            Assert.Equal((uint)e.Type, f.GgmlTypeOf(e.Name));
            Assert.Equal(0, (info.Offset - f.DataOffset) % 32);
            Assert.Equal(e.Bytes.Length, info.ByteLength);
            if (info.DType is null)
            {
                Assert.Throws<WeightFormatException>(() => f.Load(e.Name, Cpu));
                continue;
            }
            using var t = f.Load(e.Name, Cpu);
            Assert.Equal(e.Bytes, BytesOf(t));
            if (BlockQuant.CanDequantize(t.DType))
            {
                // And the float view matches dequantizing the same bytes directly.
                var direct = new float[t.ElementCount];
                BlockQuant.Dequantize(t.DType, e.Bytes, direct);
                Assert.Equal(direct.Length, t.ElementCount);
            }
        }
    }

    [Fact]
    public void GgufMetadataValuesAreTheOnesWritten()
    {
        using var dir = new TempDir();
        EveryMetadataType(new GgufWriter()).Write(dir.File("m.gguf"));
        using var f = GgufFile.Open(dir.File("m.gguf"));
        Assert.Equal((byte)255, f.Values["u8"].Value);
        Assert.Equal(int.MinValue, f.Values["i32"].Value);
        Assert.True(float.IsNaN((float)f.Values["f32"].Value));
        Assert.Equal(double.NegativeInfinity, f.Values["f64"].Value);
        Assert.Equal(ulong.MaxValue, f.Values["u64"].Value);
        Assert.Equal(new[] { true, false, true }, (bool[])f.Values["a.bool"].Value);
        Assert.Equal(new[] { "tok", "", "✓" }, (string[])f.Values["a.str"].Value);
        var nested = (GgufValue[])f.Values["a.nested"].Value;
        Assert.Equal(GgufType.Array, f.Values["a.nested"].ElementType);
        Assert.Equal(new[] { "merges", "x" }, (string[])nested[0].Value);
        Assert.Equal(new[] { 1, 2 }, (int[])((GgufValue[])nested[1].Value)[0].Value);
        Assert.Empty((float[])nested[2].Value);
    }

    [Fact]
    public void GgufDimsAreReversedAndQuantizedTensorsLoad()
    {
        using var dir = new TempDir();
        string path = dir.File("q.gguf");
        var x = QuantTests.Synthetic(4 * 256);
        var q = new byte[DType.Q4_K.ByteCount(x.Length)];
        BlockQuant.Quantize(DType.Q4_K, x, q);
        new GgufWriter().Add("general.alignment", GgufValue.From(128u))
            .AddTensor(WeightTensor.FromBytes("w", DType.Q4_K, [4, 256], q))
            .AddTensor(WeightTensor.FromValues("b", [3], new[] { 1f, 2f, 3f }))
            .Write(path);
        // ggml's ne is innermost first: ne = [256, 4] on disk.
        var raw = File.ReadAllBytes(path);
        using var f = GgufFile.Open(path);
        Assert.Equal(128, f.Alignment);
        Assert.Equal(0, f.DataOffset % 128);
        Assert.Equal(new long[] { 4, 256 }, f.Info("w").Dims);
        int nameAt = raw.AsSpan().IndexOf("w"u8.ToArray().Concat(BitConverter.GetBytes(2u)).ToArray());
        Assert.Equal(256L, BitConverter.ToInt64(raw, nameAt + 1 + 4));
        Assert.Equal(4L, BitConverter.ToInt64(raw, nameAt + 1 + 12));
        using var t = f.Load("w", Cpu);
        Assert.Equal(DType.Q4_K, t.DType);
        var y = new float[x.Length];
        BlockQuant.Dequantize(DType.Q4_K, BytesOf(t), y);
        double err = 0;
        for (int i = 0; i < x.Length; i++) err = Math.Max(err, Math.Abs(x[i] - y[i]));
        Assert.True(err < 0.2, $"max error {err}");
    }

    [Fact]
    public unsafe void CpuLoadsAreZeroCopyAndOutliveTheSource()
    {
        using var dir = new TempDir();
        string path = dir.File("z.safetensors");
        SafetensorsWriter.Write(path, PlainTensors());
        Tensor t;
        long fileOffset;
        using (var src = SafetensorsFile.Open(path))
        {
            t = src.Load("model.embed.weight", Cpu);
            fileOffset = src.Info("model.embed.weight").Offset;
            var hs = Assert.IsType<HostStorage>(t.Storage);
            Assert.True(hs.IsConstant);
            Assert.Equal(t.DType.ByteCount(t.ElementCount), hs.ByteLength);
            // Two loads of one tensor point into the same mapping, at the tensor's file offset apart from each other's base.
            using var again = src.Load("model.embed.weight", Cpu);
            Assert.True(((HostStorage)again.Storage).Pointer == hs.Pointer);
            using var other = src.Load("layers.0.norm.weight", Cpu);
            Assert.Equal(src.Info("layers.0.norm.weight").Offset - fileOffset, (byte*)((HostStorage)other.Storage).Pointer - (byte*)hs.Pointer);
        }
        // The source is disposed; the tensor still reads the mapping.
        Assert.Equal(PlainTensors()[0].Data().ToArray(), BytesOf(t));
        // Writes go to private copy-on-write pages, never to the file.
        var before = File.ReadAllBytes(path);
        using (var w = Tensor.Full(Cpu, DType.F32, t.Shape, 9.0))
        using (var copy = t + w) { }
        ((float*)((HostStorage)t.Storage).Pointer)[0] = 123f;
        Assert.Equal(123f, t.ToArray<float>()[0]);
        Assert.Equal(before, File.ReadAllBytes(path));
        t.Dispose();
    }

    [Fact]
    public void WriterRefusesBadInput()
    {
        using var dir = new TempDir();
        Assert.Throws<TesseraException>(() => new GgufWriter().AddTensor(WeightTensor.FromValues("u8", [2], new byte[] { 1, 2 })));
        Assert.Throws<TesseraException>(() => new GgufWriter().AddTensor("q", GgmlType.Q4_0, [2, 31], () => new byte[36]));
        Assert.Throws<TesseraException>(() => new GgufWriter().AddTensor(new string('n', 64), GgmlType.F32, [1], () => new byte[4]));
        Assert.Throws<TesseraException>(() => new GgufWriter().Add("k", GgufValue.From(1)).Add("k", GgufValue.From(2)));
        var bad = new GgufWriter().AddTensor("x", GgmlType.F32, [2], () => new byte[7]);
        Assert.Throws<TesseraException>(() => bad.Write(dir.File("bad.gguf")));
        Assert.False(File.Exists(dir.File("bad.gguf")));
        Assert.Throws<TesseraException>(() => SafetensorsWriter.Write(dir.File("q.safetensors"), [WeightTensor.FromBytes("q", DType.Q8_0, [32], new byte[34])]));
    }
}
