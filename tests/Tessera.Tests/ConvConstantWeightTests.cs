using Tessera.Cpu;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>Conv2d with a constant weight and a narrow output: the CPU backend then runs the product transposed with
/// the weight packed once (CpuBackend.TransposedGemm); every call must match the naive reference, with the fused
/// epilogue, for 1x1 and padded kernels, batches and odd sizes.</summary>
public class ConvConstantWeightTests
{
    private static float[] Rand(int count, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    private static Nd ToNd(Tensor t) => new(t.Shape.Dims.ToArray(), t.ToArray<float>().Select(v => (double)v).ToArray());

    [Theory]
    [InlineData(1, 37, 1, 40, 29, 1, 3, 0, 1)]   // the SVTR neck's 1x3 conv, "same" padding along W
    [InlineData(2, 19, 3, 7, 13, 1, 1, 0, 0)]    // 1x1, a batch of two
    [InlineData(1, 5, 9, 11, 33, 3, 3, 1, 1)]    // 3x3 on 99 pixels
    [InlineData(1, 300, 1, 256, 70, 1, 1, 0, 0)] // the widest narrow output, K past one KC block
    public void ConstantWeightConvMatchesTheReference(int b, int c, int h, int w, int o, int kh, int kw, int ph, int pw)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var x = Tensor.FromArray(cpu, Rand(b * c * h * w, 1), b, c, h, w);
        using var plainW = Tensor.FromArray(cpu, Rand(o * c * kh * kw, 2), o, c, kh, kw);
        using var weight = plainW.AsConstant();
        using var bias = Tensor.FromArray(cpu, Rand(o, 3), o);
        var p = new Conv2dParams(PadH: ph, PadW: pw, Activation: Activation.HardSwish, OutScale: 0.8f, OutShift: 0.1f);
        var want = NaiveImageOps.Conv2d(ToNd(x), ToNd(plainW), ToNd(bias), p);
        for (int call = 0; call < 2; call++) // the first call packs the weight, the second reuses it
        {
            using var got = x.Conv2d(weight, bias, p);
            Assert.Equal(want.Shape, got.Shape.Dims.ToArray());
            var g = got.ToArray<float>();
            Nmse.Below(want.Data, g, Nmse.F32Bound, $"call {call}");
        }
    }
}
