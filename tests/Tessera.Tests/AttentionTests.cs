namespace Tessera.Tests;

/// <summary>Attention's errors. Its comparisons with the fp64 reference (odd lengths, head dims, grouped and
/// multi-query, decode, masks and windows, the log-sum-exp, strided views, bf16) are rows of the op table
/// (OpTable.Attention.cs).</summary>
public class AttentionTests
{
    [Fact]
    public void ShapeErrorsNameTheShapes()
    {
        var be = TestBackends.Get(TestBackends.Names.First());
        using var q = Tensor.Zeros(be, DType.F32, new Shape(1, 6, 4, 64));
        using var k = Tensor.Zeros(be, DType.F32, new Shape(1, 4, 5, 64));
        using var k3 = Tensor.Zeros(be, DType.F32, new Shape(4, 5, 64));
        using var m = Tensor.Zeros(be, DType.F32, new Shape(1, 1, 3, 5));
        using var k2 = Tensor.Zeros(be, DType.F32, new Shape(1, 2, 5, 64));
        Assert.Contains("[1, 4, 5, 64]", Assert.Throws<TesseraException>(() => q.Attention(k, k)).Message);
        Assert.Contains("[4, 5, 64]", Assert.Throws<TesseraException>(() => q.Attention(k3, k3)).Message);
        Assert.Contains("mask [1, 1, 3, 5]", Assert.Throws<TesseraException>(() => q.Attention(k2, k2, null, m)).Message);
    }
}
