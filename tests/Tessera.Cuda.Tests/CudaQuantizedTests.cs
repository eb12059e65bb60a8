namespace Tessera.Cuda.Tests;

/// <summary>The CUDA quantized matmul (every GGUF block format and i8, bf16 activations) against the CPU backend.
/// Where no driver or device exists each test is reported as skipped with the reason.</summary>
public sealed class CudaQuantizedTests : CudaOpTestBase
{
    [Fact]
    public void Host_mirror_of_the_quantized_matmul_arguments_matches_the_kernel()
    {
        KernelMirror.AssertSameLayout<Tessera.Kernels.QMatArgs, QMatArgsArg>();
    }

    /// <summary>A random weight [N, K] in GGUF's byte layout (random quants and packed scales, small f16 scales) on
    /// both backends, with per-row f32 scales for I8.</summary>
    private (Tensor Cpu, Tensor Gpu, Tensor? CpuScales, Tensor? GpuScales) QuantWeight(DType type, int n, int k, int seed)
    {
        var rng = new Random(seed);
        var bytes = new byte[type.ByteCount((long)n * k)];
        rng.NextBytes(bytes);
        if (type != DType.I8)
            for (long at = 0; at < bytes.Length; at += type.BlockBytes())
            {
                float s = 0.002f + 0.01f * (float)rng.NextDouble();
                BitConverter.TryWriteBytes(bytes.AsSpan((int)at + (type == DType.Q6_K ? 208 : 0)), (Half)s);
                if (type is DType.Q4_1 or DType.Q4_K)
                    BitConverter.TryWriteBytes(bytes.AsSpan((int)at + 2), (Half)(type == DType.Q4_1 ? -8 * s : 0.01f * (float)rng.NextDouble()));
            }
        using var uc = Tensor.FromArray(_cpu, bytes, bytes.Length);
        using var ug = Tensor.FromArray(Gpu, bytes, bytes.Length);
        var wc = Tensor.FromStorage(uc.Storage, type, new Shape(n, k));
        var wg = Tensor.FromStorage(ug.Storage, type, new Shape(n, k));
        if (type != DType.I8) return (wc, wg, null, null);
        var sc = Values(n, seed + 1, 0.001f, 0.01f);
        return (wc, wg, Tensor.FromArray(_cpu, sc, n), Tensor.FromArray(Gpu, sc, n));
    }

    public static TheoryData<DType, int, int, int> QuantCases()
    {
        var d = new TheoryData<DType, int, int, int>();
        foreach (var t in new[] { DType.I8, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q4_K, DType.Q6_K })
        {
            if (t == DType.I8) { d.Add(t, 1, 130, 65); d.Add(t, 9, 33, 70); }
            d.Add(t, 1, 1024, 300);
            d.Add(t, 3, 512, 33);
            d.Add(t, 67, 768, 129);
        }
        return d;
    }

    [SkippableTheory]
    [MemberData(nameof(QuantCases))]
    public void QuantizedMatMul_matches_cpu(DType type, int m, int k, int n)
    {
        var g = Gpu;
        var (wc, wg, sc, sg) = QuantWeight(type, n, k, m + k + n);
        // x as a strided view (the transpose of [K, M]); bias, SiLU and a residual in the second pass.
        var (x0c, x0g) = Pair(Values(k * m, 31, -1f, 1f), k, m);
        var (bc, bg) = Pair(Values(n, 32), n);
        var (rc, rg) = Pair(Values(m * n, 33), m, n);
        using (wc) using (wg) using (sc) using (sg) using (x0c) using (x0g) using (bc) using (bg) using (rc) using (rg)
        {
            using var xc = x0c.T; using var xg = x0g.T;
            using (var yc = xc.Linear(wc, null, sc)) using (var yg = xg.Linear(wg, null, sg))
                AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
            using (var yc = xc.Linear(wc, new MatMulEpilogue(bc, Activation.Silu, rc), sc))
            using (var yg = xg.Linear(wg, new MatMulEpilogue(bg, Activation.Silu, rg), sg))
                AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(DType.Q4_0)] [InlineData(DType.Q4_K)] [InlineData(DType.I8)]
    public void QuantizedMatMul_with_bf16_activations_matches_cpu(DType type)
    {
        var g = Gpu;
        var (wc, wg, sc, sg) = QuantWeight(type, 40, 512, 7);
        var (x0c, x0g) = Pair(Values(2 * 9 * 512, 34, -1f, 1f), 2, 9, 512);
        using (wc) using (wg) using (sc) using (sg) using (x0c) using (x0g)
        {
            using var xc = x0c.To(DType.BF16); using var xg = x0g.To(DType.BF16);
            using var yc = xc.Linear(wc, null, sc); using var yg = xg.Linear(wg, null, sg);
            Assert.Equal(DType.BF16, yg.DType);
            Assert.Equal(new Shape(2, 9, 40), yg.Shape);
            AssertClose(yc.ToFloatArray(), yg.ToFloatArray(), 3e-5);
        }
    }

    [SkippableFact]
    public void QuantizedMatMul_refuses_k_that_is_not_whole_blocks()
    {
        var g = Gpu;
        using var u = Tensor.Zeros(g, DType.U8, new Shape((int)DType.Q4_0.ByteCount(64 * 48)));
        using var w = Tensor.FromStorage(u.Storage, DType.Q4_0, new Shape(64, 48));
        using var x = Tensor.Zeros(g, DType.F32, new Shape(3, 48));
        var e = Assert.Throws<TesseraException>(() => x.Linear(w).Dispose());
        Assert.Contains("[64, 48]", e.Message);
        Assert.Contains("32", e.Message);
    }
}
