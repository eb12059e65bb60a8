using System.Buffers.Binary;
using System.Diagnostics;
using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Safetensors;
using Tessera.Quant;
using Xunit.Abstractions;

namespace Tessera.Formats.Tests;

/// <summary>Mutates valid files thousands of times (seeded) and checks that each load either works, and then every
/// tensor reads, or throws <see cref="WeightFormatException"/>. Any other exception, a crash or a hang fails.</summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 2500;

    private static byte[] ValidSafetensors(TempDir dir)
    {
        string p = dir.File("valid.safetensors");
        SafetensorsWriter.Write(p, RoundTripTests.PlainTensors(), new Dictionary<string, string> { ["format"] = "pt" });
        return File.ReadAllBytes(p);
    }

    private static byte[] ValidGguf(TempDir dir)
    {
        string p = dir.File("valid.gguf");
        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.From("llama"))
            .Add("llama.block_count", GgufValue.From(2u))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "<s>", "</s>", "a", "bc" }))
            .Add("tokenizer.ggml.scores", GgufValue.Array(new[] { 0f, 0f, -1f, -2f }))
            .Add("nested", GgufValue.Array([GgufValue.Array(new[] { 1, 2 }), GgufValue.Array(new[] { "x" })]))
            .Add("f64", GgufValue.From(2.5)).Add("flag", GgufValue.From(true));
        var x = QuantTests.Synthetic(2 * 256);
        foreach (var t in new[] { DType.Q4_0, DType.Q8_0, DType.Q4_K, DType.Q6_K })
        {
            var q = new byte[t.ByteCount(x.Length)];
            BlockQuant.Quantize(t, x, q);
            w.AddTensor(WeightTensor.FromBytes($"w.{t.Name()}", t, [2, 256], q));
        }
        w.AddTensor(WeightTensor.FromValues("norm", [5], new[] { 1f, 2f, 3f, 4f, 5f }));
        w.AddTensor(WeightTensor.FromValues("h", [2, 2], new[] { (Half)1, (Half)2, (Half)3, (Half)4 }));
        w.Write(p);
        return File.ReadAllBytes(p);
    }

    private static readonly long[] Nasty =
    [
        0, 1, -1, 7, 8, 31, 32, 255, 65535, int.MaxValue, (long)int.MaxValue + 1, uint.MaxValue, 1L << 32, 1L << 40,
        long.MaxValue, long.MinValue, long.MaxValue / 2, 100_000_001, -8,
    ];

    private static (byte[] Data, string What) Mutate(byte[] valid, Random rng, int headerEnd)
    {
        var d = (byte[])valid.Clone();
        int kind = rng.Next(7);
        int pos = rng.Next(kind is 2 or 3 ? Math.Max(1, headerEnd) : d.Length);
        switch (kind)
        {
            case 0:
                return (d[..rng.Next(d.Length)], $"truncate at {pos}");
            case 1:
                {
                    int n = 1 + rng.Next(8);
                    for (int i = 0; i < n; i++) d[rng.Next(d.Length)] ^= (byte)(1 + rng.Next(255));
                    return (d, $"flip {n} bytes");
                }
            case 2: // an 8-byte length / offset / dim / count field in the header
                {
                    long v = rng.Next(3) == 0 ? valid.Length + rng.Next(-64, 64) : Nasty[rng.Next(Nasty.Length)];
                    pos = Math.Min(pos & ~3, d.Length - 8);
                    BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(pos), v);
                    return (d, $"u64 {v} at {pos}");
                }
            case 3: // a 4-byte type / rank / count field
                {
                    long v = Nasty[rng.Next(Nasty.Length)];
                    pos = Math.Min(pos & ~3, d.Length - 4);
                    BinaryPrimitives.WriteInt32LittleEndian(d.AsSpan(pos), (int)v);
                    return (d, $"u32 {(int)v} at {pos}");
                }
            case 4:
                {
                    var junk = new byte[1 + rng.Next(40)];
                    rng.NextBytes(junk);
                    return ([.. d[..pos], .. junk, .. d[pos..]], $"insert {junk.Length} junk bytes at {pos}");
                }
            case 5: // JSON-aware for safetensors: a digit becomes a long number, or a character changes
                {
                    int at = Array.FindIndex(d, Math.Min(pos, Math.Max(0, headerEnd - 1)), b => b is >= (byte)'0' and <= (byte)'9');
                    if (at < 0 || at >= headerEnd) at = pos;
                    var big = System.Text.Encoding.ASCII.GetBytes(rng.Next(2) == 0 ? "99999999999999999999" : "-" + rng.Next(1000));
                    return ([.. d[..at], .. big, .. d[(at + 1)..]], $"number at {at}");
                }
            default:
                {
                    int a = rng.Next(d.Length), b = rng.Next(d.Length);
                    (d[a], d[b]) = (d[b], d[a]);
                    const string punct = "{}[]\",:0-9Ffa";
                    d[pos] = (byte)punct[rng.Next(punct.Length)];
                    return (d, $"swap {a}/{b}, punctuate {pos}");
                }
        }
    }

    /// <summary>Opens the file and reads every tensor completely, as a model load would.</summary>
    private static int Exercise(string path)
    {
        int loaded = 0;
        using var src = WeightFile.Open(path);
        foreach (var name in src.Names)
        {
            var info = src.Info(name);
            if (info.DType is null) continue;
            using var t = src.Load(name, CpuBackend.Default);
            var bytes = new byte[info.ByteLength];
            t.Backend.CopyToHost(t.Storage, 0, bytes);
            if (BlockQuant.CanDequantize(t.DType) && t.ElementCount < 1 << 20)
                BlockQuant.Dequantize(t.DType, bytes, new float[t.ElementCount]);
            loaded++;
        }
        return loaded;
    }

    [Theory]
    [InlineData("safetensors", 11)]
    [InlineData("gguf", 12)]
    [InlineData("onnx", 13)]
    public void MutatedFilesLoadOrThrowWeightFormatException(string format, int seed)
    {
        using var dir = new TempDir();
        byte[] valid = format switch
        {
            "safetensors" => ValidSafetensors(dir),
            "gguf" => ValidGguf(dir),
            _ => OnnxTests.SmallModel(),
        };
        int headerEnd = format switch
        {
            "safetensors" => 8 + (int)BitConverter.ToInt64(valid, 0),
            "gguf" => (int)GgufDataOffset(dir),
            _ => valid.Length,
        };
        string path = dir.File("fuzz." + format);
        File.WriteAllBytes(path, valid);
        Assert.True(Exercise(path) > 0);

        var rng = new Random(seed);
        int ok = 0, refused = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < Iterations; i++)
        {
            var (data, what) = Mutate(valid, rng, headerEnd);
            File.WriteAllBytes(path, data);
            try { Exercise(path); ok++; }
            catch (WeightFormatException) { refused++; }
            catch (Exception e)
            {
                Assert.Fail($"{format} mutation {i} ({what}) threw {e.GetType().Name} instead of WeightFormatException: {e.Message}\n{e.StackTrace}");
            }
        }
        output.WriteLine($"{format}: {Iterations} mutations, {ok} loaded, {refused} refused, {sw.ElapsedMilliseconds} ms");
        Assert.True(refused > Iterations / 4, $"only {refused} of {Iterations} mutations were refused");
    }

    private static long GgufDataOffset(TempDir dir)
    {
        using var f = GgufFile.Open(dir.File("valid.gguf"));
        return f.DataOffset;
    }

    [Fact]
    public void HostileHeadersNameTheProblem()
    {
        using var dir = new TempDir();
        string p = dir.File("h.safetensors");
        void Write(string json, int extra = 0)
        {
            var h = System.Text.Encoding.UTF8.GetBytes(json);
            File.WriteAllBytes(p, [.. BitConverter.GetBytes((long)h.Length), .. h, .. new byte[extra]]);
        }
        string Msg() => Assert.Throws<WeightFormatException>(() => WeightFile.Open(p)).Message;

        File.WriteAllBytes(p, [.. BitConverter.GetBytes(1L << 40), (byte)'{', (byte)'}']);
        Assert.Contains("header claims", Msg());
        Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4);
        Assert.Contains("past the end", Msg());
        Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        Assert.Contains("overlaps", Msg());
        Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8);
        Assert.Contains("overflows", Msg());
        Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
        Assert.Contains("do not hold", Msg());
        Write("{\"a\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        Assert.Contains("unknown dtype", Msg());
        Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8);
        Assert.Contains("negative", Msg());
        Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        Assert.Contains("duplicate", Msg());
        Write("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        using (var f = WeightFile.Open(p))
        {
            var e = Assert.Throws<WeightFormatException>(() => f.Load("a", CpuBackend.Default));
            Assert.Contains("F64", e.Message);
            Assert.Equal("a", e.Tensor);
        }

        string g = dir.File("h.gguf");
        byte[] Gguf(ulong nTensors, ulong nKv, params byte[][] rest) =>
            [.. "GGUF"u8, .. BitConverter.GetBytes(3u), .. BitConverter.GetBytes(nTensors), .. BitConverter.GetBytes(nKv), .. rest.SelectMany(b => b)];
        string GMsg(byte[] file) { File.WriteAllBytes(g, file); return Assert.Throws<WeightFormatException>(() => WeightFile.Open(g)).Message; }
        Assert.Contains("cannot fit", GMsg(Gguf(1UL << 60, 0)));
        Assert.Contains("claims", GMsg(Gguf(0, 1, BitConverter.GetBytes(ulong.MaxValue), new byte[16])));
        byte[] key = [.. BitConverter.GetBytes(1UL), (byte)'k'];
        Assert.Contains("array elements", GMsg(Gguf(0, 1, key, BitConverter.GetBytes(9u), BitConverter.GetBytes(5u), BitConverter.GetBytes(1UL << 62))));
        Assert.Contains("unknown value type", GMsg(Gguf(0, 1, key, BitConverter.GetBytes(99u), new byte[8])));
        byte[] tensor(uint nd, long ne, uint type, ulong off) => [.. BitConverter.GetBytes(1UL), (byte)'t', .. BitConverter.GetBytes(nd), .. BitConverter.GetBytes(ne), .. BitConverter.GetBytes(type), .. BitConverter.GetBytes(off)];
        Assert.Contains("dimensions", GMsg(Gguf(1, 0, [.. BitConverter.GetBytes(1UL), (byte)'t', .. BitConverter.GetBytes(5u)], new byte[64])));
        Assert.Contains("unknown ggml tensor type 77", GMsg(Gguf(1, 0, tensor(1, 4, 77, 0), new byte[64])));
        Assert.Contains("negative dimension", GMsg(Gguf(1, 0, tensor(1, -4, 0, 0), new byte[64])));
        Assert.Contains("block size", GMsg(Gguf(1, 0, tensor(1, 31, 2, 0), new byte[64])));
        Assert.Contains("past the end", GMsg(Gguf(1, 0, tensor(1, 1024, 0, 0), new byte[64])));
        Assert.Contains("not a GGUF", GMsg([.. "GGUX"u8, .. new byte[20]]));
    }
}
