using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Quant;
using static Tessera.Formats.Tests.WeightBuilderFixtures;

namespace Tessera.Formats.Tests;

/// <summary>The dtype policy: stored dtype and zero-copy by default, conversions only when asked; quantized weights
/// through the quantized matmul.</summary>
public class WeightBuilderDTypeTests
{
    private static readonly IBackend Cpu = CpuBackend.Default;

    private static unsafe void* PointerOf(Tensor t) => Assert.IsType<HostStorage>(t.Storage).Pointer;

    [Fact]
    public unsafe void TheDefaultKeepsTheStoredDTypeAndPointsIntoTheMapping()
    {
        using var dir = new TempDir();
        string st = WriteSafetensors(dir, "m.safetensors", BF16("a.bf16", 17, 3), F32("b.f32", 33),
            WeightTensor.FromValues("c.f16", [7], Values("c.f16", 7).Select(v => (Half)v).ToArray()));
        string gguf = WriteGguf(dir, "m.gguf", [], Quantized("q.q4_0", DType.Q4_0, 3, 64), Quantized("q.q8_0", DType.Q8_0, 5, 32));
        using var wb = WeightBuilder.Open(Cpu, st, gguf);
        foreach (var (name, dtype) in new[] { ("a.bf16", DType.BF16), ("b.f32", DType.F32), ("c.f16", DType.F16), ("q.q4_0", DType.Q4_0), ("q.q8_0", DType.Q8_0) })
        {
            var t = wb.Get(name);
            Assert.Equal(dtype, t.DType);
            Assert.True(t.Storage.IsConstant);
            var source = wb.Sources.First(s => s.Contains(name));
            // A direct load of the same tensor is a view of the same mapped bytes: the builder made no copy.
            using var direct = source.Load(name, Cpu);
            Assert.True(PointerOf(t) == PointerOf(direct), $"{name}: the builder's tensor is not the mapping's bytes");
            Assert.Equal(source.Info(name).ByteLength, t.Storage.ByteLength);
        }
    }

    [Fact]
    public void FloatDTypeConvertsFloatsAndLeavesOtherTypes()
    {
        using var dir = new TempDir();
        string st = WriteSafetensors(dir, "m.safetensors", BF16("w", 17, 3), F32("b", 7), WeightTensor.FromValues("ids", [3], new[] { 1L, 2L, 3L }));
        using var wb = WeightBuilder.Open(Cpu, new WeightBuilderOptions(FloatDType: DType.F32), st);
        var w = wb.Get("w", 17, 3);
        Assert.Equal(DType.F32, w.DType);
        Assert.Equal(Values("w", 51).Select(v => (float)BFloat16.FromSingle(v)), w.ToArray<float>());
        Assert.True(w.Storage.IsConstant);
        Assert.Equal(DType.F32, wb.Get("b").DType);
        Assert.Equal(DType.I64, wb.Get("ids").DType);
        // GetAs converts one call; the options still hold for the others.
        var b16 = wb.GetAs("b", DType.BF16, 7);
        Assert.Equal(DType.BF16, b16.DType);
        Assert.Equal(Values("b", 7).Select(v => (float)BFloat16.FromSingle(v)), b16.ToFloatArray());
        Assert.Equal(DType.F32, wb.Get("w").DType);
        Assert.Equal(DType.F16, wb.GetAs("w", DType.F16, 17, 3).DType);
        Assert.Equal(6, wb.Weights.Count); // converted tensors are owned too, the stored ones they came from are not kept
    }

    [Fact]
    public void DequantizeBlocksTurnsQ4_0IntoF32AsBlockQuantDoes()
    {
        using var dir = new TempDir();
        var q = Quantized("blk.0.ffn_up.weight", DType.Q4_0, 17, 96);
        string gguf = WriteGguf(dir, "m.gguf", [F32("blk.0.ffn_norm.weight", 96)], q);
        var expected = new float[17 * 96];
        BlockQuant.Dequantize(DType.Q4_0, q.Bytes, expected);

        using var wb = WeightBuilder.Open(Cpu, new WeightBuilderOptions(DequantizeBlocks: true), gguf);
        var w = wb.Get("blk.0.ffn_up.weight", 17, 96);
        Assert.Equal(DType.F32, w.DType);
        Assert.Equal(expected, w.ToArray<float>());
        Assert.Equal(DType.F32, wb.Get("blk.0.ffn_norm.weight").DType);
        // With a float dtype as well, blocks are dequantized to it.
        using (var bf = WeightBuilder.Open(Cpu, new WeightBuilderOptions(FloatDType: DType.BF16, DequantizeBlocks: true), gguf))
            Assert.Equal(expected.Select(v => (float)BFloat16.FromSingle(v)), bf.Get("blk.0.ffn_up.weight", 17, 96).ToFloatArray());
        // Without the option the blocks stay blocks; GetAs dequantizes one call.
        using var keep = WeightBuilder.Open(Cpu, gguf);
        Assert.Equal(DType.Q4_0, keep.Get("blk.0.ffn_up.weight", 17, 96).DType);
        Assert.Equal(expected, keep.GetAs("blk.0.ffn_up.weight", DType.F32, 17, 96).ToArray<float>());
        Assert.Equal(expected, keep.GetHost("blk.0.ffn_up.weight", 17, 96));
    }

    [Fact]
    public void GetAsQuantizesFloatsAsGgmlDoesAndRefusesRowsThatAreNotWholeBlocks()
    {
        using var dir = new TempDir();
        using var wb = WeightBuilder.Open(Cpu, WriteSafetensors(dir, "m.safetensors", BF16("w", 3, 64), F32("odd", 3, 17)));
        var q = wb.GetAs("w", DType.Q8_0, 3, 64);
        Assert.Equal(DType.Q8_0, q.DType);
        var expected = new byte[DType.Q8_0.ByteCount(3 * 64)];
        BlockQuant.Quantize(DType.Q8_0, Values("w", 192).Select(v => (float)BFloat16.FromSingle(v)).ToArray(), expected);
        var actual = new byte[expected.Length];
        Cpu.CopyToHost(q.Storage, 0, actual);
        Assert.Equal(expected, actual);
        var e = Assert.Throws<WeightFormatException>(() => wb.GetAs("odd", DType.Q4_0));
        Assert.Contains("'odd'", e.Message);
        Assert.Contains("multiple of its 32-value block", e.Message);
    }

    [Theory]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q8_0)]
    public void AQuantizedGgufWeightGoesThroughLinearAndMatchesItsDequantizedF32(DType type)
    {
        const int m = 3, k = 96, n = 17;
        using var dir = new TempDir();
        var q = Quantized("blk.2.attn_q.weight", type, n, k);
        string gguf = WriteGguf(dir, "m.gguf", [F32("blk.2.attn_q.bias", n)], q);
        var x = Values("x", m * k);

        using var wb = WeightBuilder.Open(Cpu, new WeightBuilderOptions(Renames: WeightRenames.GgufLlama), gguf);
        var wq = wb.Pp("model.layers.2.self_attn").Get("q_proj.weight", n, k);
        var wf = wb.Pp("model.layers.2.self_attn").GetAs("q_proj.weight", DType.F32, n, k);
        var bias = wb.Get("blk.2.attn_q.bias", n);
        Assert.Equal(type, wq.DType);
        using var xt = Tensor.FromArray(Cpu, x, m, k);
        using var yq = xt.Linear(wq, new MatMulEpilogue(Bias: bias));
        using var yf = xt.Linear(wf, new MatMulEpilogue(Bias: bias));

        var wDeq = new float[n * k];
        BlockQuant.Dequantize(type, q.Bytes, wDeq);
        var reference = LinearReference(x, wDeq, m, k, n);
        var b = Values("blk.2.attn_q.bias", n);
        for (int i = 0; i < reference.Length; i++) reference[i] += b[i % n];
        // The f32 path over the dequantized weight is exact up to f32 rounding.
        Assert.True(Nmse(reference, yf.ToArray<float>()) < 1e-7, $"f32 linear over the dequantized weight: NMSE {Nmse(reference, yf.ToArray<float>()):E2}");
        // The quantized path also quantizes the activations to 8 bits per 32-block, as llama.cpp does: about 1/254 of a
        // block's largest value per element, an NMSE near 1e-5; a wrong block layout or scale gives ~1.
        double nmse = Nmse(reference, yq.ToArray<float>());
        Assert.True(nmse < 1e-4, $"{type} linear vs its dequantized f32: NMSE {nmse:E2}");
        // Against the activations rounded through Q8_0 as well, what is left is f32 rounding (measured: 2.4e-8 for both
        // types): the house's f32 bound holds.
        var xq = new byte[DType.Q8_0.ByteCount(m * k)];
        var xr = new float[m * k];
        BlockQuant.Quantize(DType.Q8_0, x, xq);
        BlockQuant.Dequantize(DType.Q8_0, xq, xr);
        var exact = LinearReference(xr, wDeq, m, k, n);
        for (int i = 0; i < exact.Length; i++) exact[i] += b[i % n];
        double tight = Nmse(exact, yq.ToArray<float>());
        Assert.True(tight < 1e-7, $"{type} linear vs double over Q8_0-rounded activations: NMSE {tight:E2}");
    }
}
