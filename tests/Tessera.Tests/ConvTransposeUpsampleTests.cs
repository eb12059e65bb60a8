using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>Transposed convolution and nearest upsampling beyond the op table's rows (OpTable.Resampling.cs): a single
/// pixel stamps the kernel, bad parameters are refused naming the shapes, and a backend without conv_transpose2d
/// (IBackend's default body) refuses clearly.</summary>
public class ConvTransposeUpsampleTests
{
    [Fact]
    public void Transposed_conv_of_a_single_pixel_stamps_the_kernel()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var x = Tensor.FromArray(cpu, new float[] { 2 }, 1, 1, 1, 1);
        using var w = Tensor.FromArray(cpu, new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        using var b = Tensor.FromArray(cpu, new float[] { 0.5f }, 1);
        using var y = x.ConvTranspose2d(w, b, ConvTranspose2dParams.Square(2));
        Assert.Equal([1, 1, 2, 2], y.Shape.Dims.ToArray());
        Assert.Equal(new[] { 2.5f, 4.5f, 6.5f, 8.5f }, y.ToArray<float>());
    }

    [Fact]
    public void Bad_parameters_are_refused_with_the_shapes_named()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var x = Tensor.Zeros(cpu, F32, new Shape(1, 4, 3, 3));
        using var w = Tensor.Zeros(cpu, F32, new Shape(3, 2, 2, 2));
        Assert.Contains("[1, 4, 3, 3]", Assert.Throws<TesseraException>(() => x.ConvTranspose2d(w)).Message);
        using var w4 = Tensor.Zeros(cpu, F32, new Shape(4, 2, 2, 2));
        Assert.Contains("output padding", Assert.Throws<TesseraException>(() => x.ConvTranspose2d(w4, null, ConvTranspose2dParams.Square(2, 0, 2))).Message);
        using var b = Tensor.Zeros(cpu, F32, new Shape(3));
        Assert.Throws<TesseraException>(() => x.ConvTranspose2d(w4, b));
        Assert.Contains("[1, 4, 3, 3]", Assert.Throws<TesseraException>(() => x.UpsampleNearest(0)).Message);
    }

    [Fact]
    public void A_backend_without_conv_transpose_refuses_clearly()
    {
        var cpu = TestBackends.Get("cpu-1t");
        IBackend bare = new BareBackend(cpu);
        using var x = Tensor.Zeros(cpu, F32, new Shape(1, 2, 4, 4));
        using var w = Tensor.Zeros(cpu, F32, new Shape(2, 3, 2, 2));
        using var d = Tensor.Zeros(cpu, F32, new Shape(1, 3, 8, 8));
        var e = Assert.Throws<TesseraException>(() => bare.ConvTranspose2d(x, w, null, ConvTranspose2dParams.Square(2), d));
        Assert.Contains("bare backend has no conv_transpose2d", e.Message);
        Assert.Contains("[1, 2, 4, 4]", e.Message);
    }
}
