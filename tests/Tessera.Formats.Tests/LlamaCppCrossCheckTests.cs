using System.Runtime.InteropServices;
using Tessera.Formats.Gguf;
using Tessera.Quant;

namespace Tessera.Formats.Tests;

/// <summary>Our GGUF files and quantizers against llama.cpp's own ggml (libggml-base from LLamaSharp.Backend.Cpu 0.30.0).</summary>
public unsafe class LlamaCppCrossCheckTests
{
    private static readonly DType[] QuantTypes = [DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q4_K, DType.Q6_K, DType.Q8_K];

    /// <summary>Test data with the shapes quantizers find hard: smooth, noisy, outliers, zero and constant blocks, tiny values.</summary>
    internal static float[] HardData(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            int region = i / 256 % 6;
            x[i] = region switch
            {
                0 => (float)(0.1 + 2 * Math.Cos(i + seed)),
                1 => (float)(rng.NextDouble() * 2 - 1) * (float)Math.Pow(10, rng.Next(-3, 3)),
                2 => rng.Next(50) == 0 ? (float)(rng.NextDouble() * 200 - 100) : (float)(rng.NextDouble() - 0.5),
                3 => i % 256 < 128 ? 0f : 0.75f,
                4 => (float)(rng.NextDouble() + 0.5),  // all positive: exercises the min of the affine formats
                _ => (float)(rng.NextDouble() * 1e-6),
            };
        }
        return x;
    }

    [Fact]
    public void TypeTableMatchesGgml()
    {
        foreach (GgmlType t in Enum.GetValues<GgmlType>())
        {
            var ours = GgmlTypes.Traits((uint)t)!.Value;
            Assert.Equal((long)ours.BlockSize, Ggml.BlckSize((int)t));
            Assert.Equal((nuint)ours.TypeSize, Ggml.TypeSize((int)t));
            Assert.Equal(GgmlTypes.Name((uint)t), Marshal.PtrToStringUTF8(Ggml.Traits((int)t)->TypeName));
        }
    }

    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q4_1)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    [InlineData(DType.Q8_K)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void QuantizersMatchGgmlByteForByte(DType type)
    {
        const int n = 256 * 24;
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var x = HardData(n, seed);
            var ours = new byte[type.ByteCount(n)];
            BlockQuant.Quantize(type, x, ours);
            var theirs = new byte[ours.Length];
            var quantize = Ggml.FromFloatRef((int)GgmlTypes.FromDType(type));
            fixed (float* px = x) fixed (byte* pt = theirs) quantize(px, pt, n);
            int first = ours.AsSpan().CommonPrefixLength(theirs);
            Assert.True(first == ours.Length, $"{type} seed {seed}: first differing byte {first} (block {first / type.BlockBytes()}): ours {(first < ours.Length ? ours[first] : 0)}, ggml {(first < ours.Length ? theirs[first] : 0)}");
        }
    }

    [Fact]
    public void GgufWeWriteLoadsInGgmlAndDequantizesIdentically()
    {
        using var dir = new TempDir();
        string path = dir.File("ours.gguf");
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.From("llama"));
        w.Add("general.alignment", GgufValue.From(64u));
        w.Add("t.u8", GgufValue.From((byte)200)).Add("t.i8", GgufValue.From((sbyte)-100));
        w.Add("t.u16", GgufValue.From((ushort)60000)).Add("t.i16", GgufValue.From((short)-30000));
        w.Add("t.u32", GgufValue.From(4000000000u)).Add("t.i32", GgufValue.From(-2000000000));
        w.Add("t.f32", GgufValue.From(3.25f)).Add("t.bool", GgufValue.From(true));
        w.Add("t.u64", GgufValue.From(ulong.MaxValue - 5)).Add("t.i64", GgufValue.From(long.MinValue + 7));
        w.Add("t.f64", GgufValue.From(-1.0 / 3)).Add("t.str", GgufValue.From("héllo, ggml"));
        w.Add("t.arr.i32", GgufValue.Array(new[] { 1, -2, 3 })).Add("t.arr.f32", GgufValue.Array(new[] { 0.5f, -1.5f }));
        w.Add("t.arr.str", GgufValue.Array(new[] { "a", "", "ünï" })).Add("t.arr.u8", GgufValue.Array(new byte[] { 9, 8, 7 }));
        w.Add("t.arr.bool", GgufValue.Array(new[] { true, false })).Add("t.arr.f64", GgufValue.Array(new[] { 1e300, -2.0 }));

        var data = new Dictionary<string, (DType Type, long[] Dims, byte[] Bytes, float[]? Source)>();
        int k = 0;
        foreach (var type in QuantTypes.Concat([DType.F32, DType.F16, DType.BF16]))
        {
            long[] dims = type.BlockSize() == 256 ? [3, 512] : [5, 96];
            int n = (int)(dims[0] * dims[1]);
            var x = HardData(n, 10 + k++);
            var bytes = new byte[type.ByteCount(n)];
            BlockQuant.Quantize(type, x, bytes);
            data[$"blk.{k}.{type.Name()}.weight"] = (type, dims, bytes, x);
        }
        data["ints.i8"] = (DType.I8, [7], [1, 255, 3, 4, 5, 6, 128], null);
        data["ints.i32"] = (DType.I32, [2, 2], MemoryMarshal.AsBytes(new[] { 1, -1, int.MaxValue, int.MinValue }.AsSpan()).ToArray(), null);
        data["ints.i64"] = (DType.I64, [3], MemoryMarshal.AsBytes(new[] { 1L, -1L, long.MaxValue }.AsSpan()).ToArray(), null);
        foreach (var (name, t) in data) w.AddTensor(WeightTensor.FromBytes(name, t.Type, t.Dims, t.Bytes));
        w.Write(path);

        nint ctx = Ggml.InitFromFile(path);
        Assert.True(ctx != 0, "ggml's gguf_init_from_file refused our file");
        try
        {
            using var ours = GgufFile.Open(path);
            Assert.Equal(3u, Ggml.Version(ctx));
            Assert.Equal((nuint)64, Ggml.Alignment(ctx));
            Assert.Equal((nuint)ours.DataOffset, Ggml.DataOffset(ctx));
            Assert.Equal(data.Count, Ggml.NTensors(ctx));
            Assert.Equal(ours.Keys.Count, Ggml.NKv(ctx));
            CheckMetadataInGgml(ctx, ours);

            var bytesOnDisk = File.ReadAllBytes(path);
            foreach (var (name, t) in data)
            {
                long id = Ggml.FindTensor(ctx, name);
                Assert.True(id >= 0, $"ggml does not find tensor {name}");
                var info = ours.Info(name);
                Assert.Equal((int)GgmlTypes.FromDType(t.Type), Ggml.TensorType(ctx, id));
                Assert.Equal((nuint)info.ByteLength, Ggml.TensorSize(ctx, id));
                Assert.Equal(info.Offset, (long)(Ggml.DataOffset(ctx) + Ggml.TensorOffset(ctx, id)));
                var span = bytesOnDisk.AsSpan((int)info.Offset, (int)info.ByteLength);
                Assert.True(span.SequenceEqual(t.Bytes), $"{name}: bytes on disk differ from the bytes written");
                if (t.Source is null || t.Type == DType.F32) continue; // f32 has no to_float in ggml: the bytes were compared

                int n = t.Source.Length;
                var theirs = new float[n];
                var dequantize = Ggml.ToFloat((int)GgmlTypes.FromDType(t.Type));
                fixed (byte* p = span) fixed (float* y = theirs) dequantize(p, y, n);
                var mine = new float[n];
                BlockQuant.Dequantize(t.Type, span, mine);
                for (int i = 0; i < n; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(mine[i]) == BitConverter.SingleToInt32Bits(theirs[i]),
                        $"{name}[{i}]: ours {mine[i]:R}, ggml {theirs[i]:R}");
            }
        }
        finally { Ggml.Free(ctx); }
    }

    private static void CheckMetadataInGgml(nint ctx, GgufFile ours)
    {
        foreach (var key in ours.Keys)
        {
            var v = ours.Values[key];
            long id = Ggml.FindKey(ctx, key);
            Assert.True(id >= 0, $"ggml does not find key {key}");
            Assert.Equal((int)v.Type, Ggml.KvType(ctx, id));
            if (v.Type == GgufType.String) { Assert.Equal((string)v.Value, Ggml.ValStr(ctx, id)); continue; }
            if (v.Type != GgufType.Array)
            {
                var expected = ScalarBytes(v.Value);
                Assert.True(new ReadOnlySpan<byte>(Ggml.ValData(ctx, id), expected.Length).SequenceEqual(expected), $"value of {key}");
                continue;
            }
            Assert.Equal((int)v.ElementType, Ggml.ArrType(ctx, id));
            Assert.Equal((nuint)v.Count, Ggml.ArrN(ctx, id));
            if (v.Value is string[] strs)
                for (int i = 0; i < strs.Length; i++) Assert.Equal(strs[i], Ggml.ArrStr(ctx, id, (nuint)i));
            else
            {
                var arr = (Array)v.Value;
                var expected = arr.Cast<object>().SelectMany(ScalarBytes).ToArray();
                Assert.True(new ReadOnlySpan<byte>(Ggml.ArrData(ctx, id), expected.Length).SequenceEqual(expected), $"array {key}");
            }
        }
    }

    internal static byte[] ScalarBytes(object o) => o switch
    {
        byte x => [x],
        sbyte x => [(byte)x],
        bool x => [(byte)(x ? 1 : 0)],
        ushort x => BitConverter.GetBytes(x),
        short x => BitConverter.GetBytes(x),
        uint x => BitConverter.GetBytes(x),
        int x => BitConverter.GetBytes(x),
        float x => BitConverter.GetBytes(x),
        ulong x => BitConverter.GetBytes(x),
        long x => BitConverter.GetBytes(x),
        double x => BitConverter.GetBytes(x),
        _ => throw new ArgumentException(o.GetType().Name),
    };

    [Fact]
    public void GgufWrittenByGgmlReadsBack()
    {
        using var dir = new TempDir();
        string path = dir.File("ggml.gguf");
        nint c = Ggml.InitEmpty();
        try
        {
            Ggml.SetU8(c, "a.u8", 7); Ggml.SetI8(c, "a.i8", -7); Ggml.SetU16(c, "a.u16", 65535); Ggml.SetI16(c, "a.i16", -32768);
            Ggml.SetU32(c, "a.u32", 123456789); Ggml.SetI32(c, "a.i32", -123456789); Ggml.SetF32(c, "a.f32", 1.5e-3f);
            Ggml.SetU64(c, "a.u64", 1UL << 63); Ggml.SetI64(c, "a.i64", -(1L << 40)); Ggml.SetF64(c, "a.f64", Math.PI);
            Ggml.SetBool(c, "a.bool", true); Ggml.SetStr(c, "a.str", "tokenizer ✓");
            Ggml.SetArrData(c, "a.arr.i16", (int)GgufType.Int16, new short[] { -1, 2, -3 });
            Ggml.SetArrData(c, "a.arr.u64", (int)GgufType.UInt64, new ulong[] { 1, ulong.MaxValue });
            Ggml.SetArrStr(c, "a.arr.str", ["x", "yy", ""]);
            Assert.True(Ggml.WriteToFile(c, path));
        }
        finally { Ggml.Free(c); }

        using var f = GgufFile.Open(path);
        Assert.Equal(3u, f.Version);
        Assert.Empty(f.Names);
        Assert.Equal((byte)7, f.Values["a.u8"].Value);
        Assert.Equal((sbyte)-7, f.Values["a.i8"].Value);
        Assert.Equal((ushort)65535, f.Values["a.u16"].Value);
        Assert.Equal((short)-32768, f.Values["a.i16"].Value);
        Assert.Equal(123456789u, f.Values["a.u32"].Value);
        Assert.Equal(-123456789, f.Values["a.i32"].Value);
        Assert.Equal(1.5e-3f, f.Values["a.f32"].Value);
        Assert.Equal(1UL << 63, f.Values["a.u64"].Value);
        Assert.Equal(-(1L << 40), f.Values["a.i64"].Value);
        Assert.Equal(Math.PI, f.Values["a.f64"].Value);
        Assert.Equal(true, f.Values["a.bool"].Value);
        Assert.Equal("tokenizer ✓", f.Values["a.str"].Value);
        Assert.Equal(new short[] { -1, 2, -3 }, (short[])f.Values["a.arr.i16"].Value);
        Assert.Equal(new ulong[] { 1, ulong.MaxValue }, (ulong[])f.Values["a.arr.u64"].Value);
        Assert.Equal(new[] { "x", "yy", "" }, (string[])f.Values["a.arr.str"].Value);
    }
}
