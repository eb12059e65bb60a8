using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>Misuse fails early and says why: a TesseraException whose message names the shapes (and dtypes)
/// involved, an ObjectDisposedException for a disposed tensor, never a crash or a silent wrong answer.</summary>
public class ErrorTests
{
    private static readonly IBackend B = TestBackends.Get("cpu-1t");

    private static Tensor F(params int[] shape) => Tensor.Zeros(B, DType.F32, new Shape(shape));
    private static Tensor T(DType dt, params int[] shape) => Tensor.Zeros(B, dt, new Shape(shape));

    /// <summary>Asserts a TesseraException whose message contains every fragment.</summary>
    private static void Fails(Func<object?> act, params string[] fragments)
    {
        var e = Assert.Throws<TesseraException>(() => { using var _ = act() as IDisposable; });
        foreach (var f in fragments) Assert.True(e.Message.Contains(f), $"message \"{e.Message}\" does not name {f}");
    }

    [Fact]
    public void ElementwiseShapesAndDtypes()
    {
        using var a = F(2, 3);
        using var b = F(4, 5);
        using var h = T(DType.F16, 2, 3);
        using var i = T(DType.I32, 2, 3);
        Fails(() => a + b, "[2, 3]", "[4, 5]");
        Fails(() => a.Zip(BinaryOp.Max, b), "[2, 3]", "[4, 5]");
        Fails(() => a * h, "f32", "f16");
        Fails(() => i.Map(UnaryOp.Exp), "i32", "[2, 3]");
        Fails(() => i + i, "i32", "[2, 3]");
        Fails(() => i.Affine(2), "i32", "[2, 3]");
    }

    [Fact]
    public void MatMulShapesAndDtypes()
    {
        using var a = F(2, 3);
        using var b = F(4, 5);
        Fails(() => a.MatMul(b), "[2, 3]", "[4, 5]");
        using var v = F(3);
        using var w = F(3, 2);
        Fails(() => v.MatMul(w), "[3]", "[3, 2]");
        using var k = F(3, 4);
        using var bias = F(5);
        Fails(() => a.MatMul(k, new MatMulEpilogue(bias)), "[4]", "[5]");
        using var bias2 = F(1, 4);
        Fails(() => a.MatMul(k, new MatMulEpilogue(bias2)), "[1, 4]");
        using var res = F(3, 3);
        Fails(() => a.MatMul(k, new MatMulEpilogue(Residual: res)), "[3, 3]", "[2, 4]");
        using var h = T(DType.F16, 3, 4);
        using var ah = T(DType.F16, 2, 3);
        Fails(() => ah.MatMul(w), "f16", "f32");
        using var i = T(DType.I32, 2, 3);
        using var ik = T(DType.I32, 3, 4);
        Fails(() => i.MatMul(ik), "i32", "[2, 3]");
    }

    [Fact]
    public void MatMulBatchMismatchNamesBothOperands()
    {
        using var ba = F(2, 3, 4);
        using var bb = F(5, 4, 6);
        Fails(() => ba.MatMul(bb), "[2, 3, 4]", "[5, 4, 6]"); // batch axes 2 and 5 do not broadcast
    }

    [Fact]
    public void RowOpShapesAndDtypes()
    {
        using var x = F(2, 5);
        using var m = F(3);
        Fails(() => x.Softmax(m), "[3]", "[2, 5]");
        using var mh = T(DType.F16, 2, 5);
        Fails(() => x.Softmax(mh), "f16", "f32");
        using var w4 = F(4);
        Fails(() => x.LayerNorm(w4, null), "[4]", "[2, 5]");
        Fails(() => x.LayerNorm(null, w4), "[4]", "[2, 5]");
        Fails(() => x.RmsNorm(w4), "[4]", "[2, 5]");
        using var xh = T(DType.F16, 2, 5);
        using var wb = T(DType.BF16, 5);
        Fails(() => xh.LayerNorm(wb, null), "bf16", "f16");
        using var xi = T(DType.I32, 2, 5);
        Fails(() => xi.Softmax(), "i32", "[2, 5]");
        Fails(() => xi.LayerNorm(null, null), "i32", "[2, 5]");
    }

    [Fact]
    public void RopeShapesAndDtypes()
    {
        using var x = F(2, 5, 8);
        using var c42 = F(4, 2);
        Fails(() => x.Rope(c42, c42), "[2, 5, 8]", "[4, 2]");           // 4 positions for S = 5
        using var c55 = F(5, 5);
        Fails(() => x.Rope(c55, c55), "[2, 5, 8]", "[5, 5]");           // R = 10 > D = 8
        using var c52 = F(5, 2);
        using var s53 = F(5, 3);
        Fails(() => x.Rope(c52, s53), "[5, 2]", "[5, 3]");              // cos and sin differ
        using var h52 = T(DType.F16, 5, 2);
        Fails(() => x.Rope(h52, h52), "f16", "[5, 2]");
        using var v = F(8);
        Fails(() => v.Rope(c52, c52), "[8]");
    }

    [Fact]
    public void GatherReduceConcatShapesAndDtypes()
    {
        using var t3 = F(2, 3, 4);
        using var ids = T(DType.I32, 3);
        Fails(() => t3.Gather(ids), "[2, 3, 4]");
        using var table = F(11, 7);
        using var fids = F(3);
        Fails(() => table.Gather(fids), "f32", "[3]");
        using var x = F(2, 3);
        Fails(() => x.Sum(2), "[2, 3]");
        Fails(() => x.Reduce(ReduceOp.ArgMax, -3), "[2, 3]");
        using var y = F(2, 4);
        Fails(() => Tensor.Concat(0, x, y), "[2, 3]", "[2, 4]");
        using var z = F(2, 3, 1);
        Fails(() => Tensor.Concat(0, x, z), "[2, 3]", "[2, 3, 1]");
        using var h = T(DType.F16, 2, 3);
        Fails(() => Tensor.Concat(0, x, h), "f32", "f16");
        Fails(() => Tensor.Concat(0));
    }

    /// <summary>An id outside the table must not read whatever memory lies beyond it (a backend check).</summary>
    [Theory]
    [InlineData(11)]
    [InlineData(-1)]
    public void GatherIdOutOfRange(int bad)
    {
        using var table = F(11, 7);
        using var ids = Tensor.FromArray(B, new[] { 0, bad, 3 }, 3);
        Fails(() => table.Gather(ids), bad.ToString(), "[11, 7]");
    }

    [Fact]
    public void ImageOpShapesAndParameters()
    {
        using var x3 = F(1, 3, 5);
        using var w = F(4, 3, 3, 3);
        Fails(() => x3.Conv2d(w), "[1, 3, 5]", "[4, 3, 3, 3]");
        using var x = F(1, 4, 5, 5);
        using var wg = F(6, 3, 3, 3);
        Fails(() => x.Conv2d(wg, null, Conv2dParams.Square(groups: 2)), "[1, 4, 5, 5]", "[6, 3, 3, 3]");
        using var x7 = F(1, 3, 7, 7);
        Fails(() => x7.Conv2d(w, null, Conv2dParams.Square(stride: 0)), "StrideH = 0");
        Fails(() => x7.Conv2d(w, null, Conv2dParams.Square(padding: -1)), "PadH = -1");
        using var b5 = F(5);
        Fails(() => x7.Conv2d(w, b5), "[5]", "[4]");
        using var wh = T(DType.F16, 4, 3, 3, 3);
        Fails(() => x7.Conv2d(wh), "f32", "f16");

        using var img = F(1, 3, 10, 10);
        using var pw2 = F(5, 3, 4, 2);
        Fails(() => img.PatchEmbed(pw2), "[1, 3, 10, 10]", "[5, 3, 4, 2]");
        using var pw3 = F(5, 2, 5, 5);
        Fails(() => img.PatchEmbed(pw3), "[1, 3, 10, 10]", "[5, 2, 5, 5]");

        Fails(() => x3.InterpolateBicubic(4, 4), "[1, 3, 5]");
        Fails(() => img.InterpolateBicubic(0, 4), "[1, 3, 10, 10]");
    }

    [Fact]
    public void Conv2dKernelLargerThanImageNamesTheShapes()
    {
        using var x = F(1, 3, 2, 2);
        using var w = F(4, 3, 3, 3);
        Fails(() => x.Conv2d(w), "[1, 3, 2, 2]", "[4, 3, 3, 3]");
    }

    [Fact]
    public void PatchEmbedOfAnImageNotAMultipleOfThePatchNamesTheShapes()
    {
        using var img = F(1, 3, 10, 10);
        using var pw = F(5, 3, 4, 4);
        Fails(() => img.PatchEmbed(pw), "[1, 3, 10, 10]", "[5, 3, 4, 4]");
    }

    [Fact]
    public void ViewErrorsNameTheShape()
    {
        using var x = F(2, 3);
        Fails(() => x.Reshape(4, 2), "[2, 3]", "[4, 2]");
        Fails(() => x.Permute(0), "[2, 3]");
        Fails(() => x.Narrow(1, 2, 2), "[2, 3]");
        Fails(() => x.Squeeze(0), "[2, 3]");
        Fails(() => x.BroadcastTo(new Shape(4, 4)), "[2, 3]", "[4, 4]");
        Fails(() => x.Split(0, 1, 2), "[2, 3]");
        Fails(() => x.Chunk(2, 1), "[2, 3]");
        using var v = F(3);
        Fails(() => v.T, "[3]");
    }

    [Fact]
    public void OperandsOnDifferentBackends()
    {
        using var other = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var a = F(2, 3);
        using var b = Tensor.Zeros(other, DType.F32, new Shape(2, 3));
        using var k = Tensor.Zeros(other, DType.F32, new Shape(3, 4));
        using var w = Tensor.Zeros(other, DType.F32, new Shape(3));
        using var ids = Tensor.Zeros(other, DType.I32, new Shape(2));
        using var cw = Tensor.Zeros(other, DType.F32, new Shape(4, 2, 1, 1));
        using var img = F(1, 2, 3, 3);
        Fails(() => a + b, "backend", "[2, 3]");
        Fails(() => a.MatMul(k), "backend", "[2, 3]", "[3, 4]");
        using var k2 = F(3, 4);
        using var bias = Tensor.Zeros(other, DType.F32, new Shape(4));
        Fails(() => a.MatMul(k2, new MatMulEpilogue(bias)), "backend");
        Fails(() => a.Softmax(b), "backend");
        Fails(() => a.LayerNorm(w, null), "backend");
        Fails(() => a.RmsNorm(w), "backend");
        Fails(() => a.Gather(ids), "backend");
        Fails(() => Tensor.Concat(0, a, b), "backend");
        Fails(() => img.Conv2d(cw), "backend");
    }

    [Fact]
    public void DisposedTensorsCannotBeUsed()
    {
        var d = F(2, 3);
        d.Dispose();
        using var ok = F(2, 3);
        using var k = F(3, 4);
        using var w = F(3);
        Assert.Throws<ObjectDisposedException>(() => d.Map(UnaryOp.Exp));
        Assert.Throws<ObjectDisposedException>(() => d + ok);
        Assert.Throws<ObjectDisposedException>(() => ok + d);
        Assert.Throws<ObjectDisposedException>(() => d.MatMul(k));
        Assert.Throws<ObjectDisposedException>(() => ok.Softmax(d));
        Assert.Throws<ObjectDisposedException>(() => d.LayerNorm(w, null));
        Assert.Throws<ObjectDisposedException>(() => d.Sum(0));
        Assert.Throws<ObjectDisposedException>(() => Tensor.Concat(0, ok, d));
        Assert.Throws<ObjectDisposedException>(() => Tensor.Concat(0, d, ok));
        Assert.Throws<ObjectDisposedException>(() => d.Reshape(-1));
        Assert.Throws<ObjectDisposedException>(() => d.T);
        Assert.Throws<ObjectDisposedException>(() => d.Narrow(0, 0, 1));
        Assert.Throws<ObjectDisposedException>(() => d.Contiguous());
        Assert.Throws<ObjectDisposedException>(() => d.To(DType.F16));
        Assert.Throws<ObjectDisposedException>(() => d.ToArray<float>());
        var kd = F(3, 4);
        kd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ok.MatMul(kd));
        var wd = F(3);
        wd.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ok.RmsNorm(wd));
    }

    [Fact]
    public void ShapesThatOverflowFailCleanly()
    {
        Fails(() => new Shape(int.MaxValue, int.MaxValue, int.MaxValue), "[2147483647, 2147483647, 2147483647]");
        Fails(() => new Shape(65536, 65536, 65536, 65536), "[65536, 65536, 65536, 65536]");
        Fails(() => new Shape(3, -1), "[3, -1]");
    }

    [Fact]
    public void ByteCountsThatOverflowFailCleanly()
    {
        // The element count fits in 64 bits but the byte count does not: still a TesseraException, no allocation.
        Fails(() => Tensor.Zeros(B, DType.F32, new Shape(int.MaxValue, int.MaxValue, 2)), "[2147483647, 2147483647, 2]");
    }
}
