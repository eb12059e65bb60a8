using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>Nearest upsampling beyond the op table's rows (OpTable.Resampling.cs): the default body, which backends
/// without a kernel run, against the CPU kernel, and the error for a wrong addend.</summary>
public class UpsampleNearestTests
{
    [Fact]
    public void The_default_body_matches_the_kernel()
    {
        var cpu = TestBackends.Get("cpu-2t");
        var rng = new Random(3);
        float[] Draw(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        using var x = Tensor.FromArray(cpu, Draw(2 * 3 * 5 * 19), 2, 3, 5, 19);
        using var a = Tensor.FromArray(cpu, Draw(2 * 3 * 10 * 38), 2, 3, 10, 38);
        using var kernel = x.UpsampleNearestAdd(a, 2);
        using var viaViews = Tensor.Empty(cpu, F32, new Shape(2, 3, 10, 38));
        Tensor.UpsampleNearestByViews(cpu, x, a, 2, 2, viaViews);
        Assert.Equal(viaViews.ToArray<float>(), kernel.ToArray<float>());
    }

    [Fact]
    public void A_wrong_addend_is_refused_with_the_shapes_named()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var x = Tensor.Zeros(cpu, F32, new Shape(1, 2, 3, 4));
        using var a = Tensor.Zeros(cpu, F32, new Shape(1, 2, 6, 7));
        var e = Assert.Throws<TesseraException>(() => x.UpsampleNearestAdd(a, 2));
        Assert.Contains("[1, 2, 6, 7]", e.Message);
        Assert.Contains("[1, 2, 3, 4]", e.Message);
    }
}
