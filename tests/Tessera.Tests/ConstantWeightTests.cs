using Tessera.Cpu;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>Constant weights (Tensor.AsConstant): an f32 [out, in] weight is read in place by the dot-product kernel
/// up to decode-batch row counts and packed once beyond them (PackedWeightTests); either way within the f32 rule of
/// the packing GEMM, and the same on every call. Other layouts go through the packing GEMM exactly as plain ones;
/// derived forms are freed with the storage.</summary>
public class ConstantWeightTests
{
    private static float[] Rand(int count, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(1, 5, 7)]
    [InlineData(2, 40, 9)]
    [InlineData(3, 768, 70)]
    [InlineData(4, 33, 17)]
    [InlineData(197, 300, 129)]
    [InlineData(13, 600, 65)]
    public void ConstantWeightGivesTheProductOfThePlainOne(int m, int k, int n)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var x = Tensor.FromArray(cpu, Rand(3 * m * k, 1), 3, m, k);
        using var wNK = Tensor.FromArray(cpu, Rand(n * k, 2), n, k);     // Hugging Face [out, in]
        using var bias = Tensor.FromArray(cpu, Rand(n, 3), n);
        using var plainT = wNK.T;
        using var want = x.MatMul(plainT, new MatMulEpilogue(bias, Activation.Silu));
        using var constant = wNK.AsConstant();
        using var wT = constant.T;
        float[]? first = null;
        for (int call = 0; call < 3; call++)
        {
            using var got = x.MatMul(wT, new MatMulEpilogue(bias, Activation.Silu));
            var g = got.ToArray<float>();
            Assert.True(Nmse.Of(want.ToArray<float>(), g) < 1e-7, $"nmse {Nmse.Of(want.ToArray<float>(), g):E2}");
            first ??= g;
            Assert.Equal(first, g);
        }
        using var rowMajor = Tensor.FromArray(cpu, Rand(k * n, 4), k, n).AsConstant();
        using var plainRows = rowMajor.Contiguous();
        using var w2 = x.MatMul(plainRows.Share());
        using var g2 = x.MatMul(rowMajor);
        Assert.Equal(w2.ToArray<float>(), g2.ToArray<float>());
    }

    /// <summary>A constant f16/bf16 [out, in] weight (a 16-bit checkpoint read in place) gives bit for bit the product of
    /// its f32 widening read by the f32 dot kernel, epilogue included, and row i does not depend on how many rows run.</summary>
    [Theory]
    [InlineData(DType.F16, 1, 5, 7)]
    [InlineData(DType.F16, 4, 33, 17)]
    [InlineData(DType.F16, 197, 300, 129)]
    [InlineData(DType.BF16, 1, 600, 65)]
    [InlineData(DType.BF16, 13, 96, 130)]
    public void ConstantHalfWeightGivesTheWidenedProduct(DType dtype, int m, int k, int n)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var x = Tensor.FromArray(cpu, Rand(m * k, 1), m, k);
        using var f32 = Tensor.FromArray(cpu, Rand(n * k, 2), n, k);
        using var half = f32.To(dtype);
        using var widened = half.To(DType.F32);
        using var bias = Tensor.FromArray(cpu, Rand(n, 3), n);
        using var wideConstant = widened.AsConstant();
        using var halfConstant = half.AsConstant();
        var ep = new MatMulEpilogue(bias, Activation.Silu);
        // The f32 dot kernel serves up to CpuBackend.DotGemmMaxRows rows (more go to the packed GEMM), and its rows do
        // not depend on m: the reference is taken in slices of at most that many rows.
        var want = new List<float>();
        for (int r0 = 0; r0 < m; r0 += CpuBackend.DotGemmMaxRows)
        {
            using var slice = x.Narrow(0, r0, Math.Min(CpuBackend.DotGemmMaxRows, m - r0));
            using var part = slice.Linear(wideConstant, ep);
            want.AddRange(part.ToArray<float>());
        }
        using var got = x.Linear(halfConstant, ep);
        Assert.Equal(DType.F32, got.DType);
        var g = got.ToArray<float>();
        Assert.Equal(want.ToArray(), g);
        using var x1 = x.Narrow(0, m - 1, 1);
        using var last = x1.Linear(halfConstant, ep);
        Assert.Equal(g.AsSpan((m - 1) * n, n).ToArray(), last.ToArray<float>());
    }

    [Fact]
    public void PackedFormIsFreedWithTheStorage()
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var w = Tensor.FromArray(cpu, Rand(64 * 32, 5), 64, 32);
        var c = w.AsConstant();
        using (var x = Tensor.FromArray(cpu, Rand(8 * 64, 6), 8, 64))
            x.MatMul(c).Dispose();
        var storage = w.Storage;
        w.Dispose();
        Assert.False(storage.IsFreed);
        c.Dispose();
        Assert.True(storage.IsFreed);
        Assert.Throws<ObjectDisposedException>(() => storage.GetOrAddDerived<IDisposable>("k", () => throw new InvalidOperationException()));
    }
}
