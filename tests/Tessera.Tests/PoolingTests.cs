using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>Pooling beyond the op table's rows (OpTable.Resampling.cs): the global average's meaning, the errors, and
/// the refusal of a backend without pooling (IBackend's default body), which
/// <see cref="Cuda_or_any_backend_without_pooling_refuses_clearly"/> pins.</summary>
public class PoolingTests
{
    [Fact]
    public void Global_average_is_the_mean_over_the_image()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var x = Tensor.FromArray(cpu, new float[] { 1, 2, 3, 4, 10, 20, 30, 40 }, 1, 2, 2, 2);
        using var g = x.GlobalAvgPool2d();
        Assert.Equal([1, 2, 1, 1], g.Shape.Dims.ToArray());
        Assert.Equal(new[] { 2.5f, 25f }, g.ToArray<float>());
    }

    [Fact]
    public void Bad_parameters_are_refused_with_the_shapes_named()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var x = Tensor.Zeros(cpu, F32, new Shape(1, 2, 4, 4));
        Assert.Contains("[1, 2, 4, 4]", Assert.Throws<TesseraException>(() => x.AvgPool2d(Pool2dParams.Square(5))).Message);
        Assert.Contains("padding", Assert.Throws<TesseraException>(() => x.MaxPool2d(Pool2dParams.Square(2, 1, 2))).Message);
        using var v = Tensor.Zeros(cpu, F32, new Shape(2, 4));
        Assert.Throws<TesseraException>(() => v.GlobalAvgPool2d());
    }

    [Fact]
    public void Cuda_or_any_backend_without_pooling_refuses_clearly()
    {
        var cpu = TestBackends.Get("cpu-1t");
        IBackend bare = new BareBackend(cpu);
        using var x = Tensor.Zeros(cpu, F32, new Shape(1, 2, 4, 4));
        using var d = Tensor.Zeros(cpu, F32, new Shape(1, 2, 2, 2));
        var e = Assert.Throws<TesseraException>(() => bare.Pool2d(PoolOp.Avg, x, Pool2dParams.Square(2), d));
        Assert.Contains("bare backend has no avg pooling", e.Message);
        Assert.Contains("[1, 2, 4, 4]", e.Message);
    }
}
