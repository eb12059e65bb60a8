using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>Average, max and global-average pooling against <see cref="NaiveImageOps.Pool2d"/>, in the op table's
/// format (odd sizes, padding with and without counting it, strided and permuted inputs, f16/bf16). They run on
/// the CPU backends only: pooling is a newer op that the CUDA backend refuses (IBackend's default body) until it
/// has a kernel, which <see cref="Cuda_or_any_backend_without_pooling_refuses_clearly"/> pins.</summary>
public class PoolingTests
{
    private static OpRow Row(PoolOp op, string label, In x, Pool2dParams p, double? tol = null) =>
        new($"{op}Pool2d {label} k{p.KernelH}x{p.KernelW} s{p.StrideH}x{p.StrideW} p{p.PadH}x{p.PadW}{(p.CountIncludePad ? " incl" : "")} {x.DType.Name()}",
            [x], t => t[0].Pool2d(op, p), r => NaiveImageOps.Pool2d(op, r[0], p),
            check: op == PoolOp.Max && x.DType == F32 ? Check.Exact : Check.Nmse, tolerance: tol);

    private static IEnumerable<OpRow> Rows()
    {
        foreach (var op in new[] { PoolOp.Avg, PoolOp.Max })
        {
            yield return Row(op, "[1, 2, 6, 8]", In.Of(F32, 1, 2, 6, 8), Pool2dParams.Square(2));
            yield return Row(op, "[2, 3, 9, 7]", In.Of(F32, 2, 3, 9, 7), Pool2dParams.Square(3, 2, 1));
            yield return Row(op, "[2, 3, 9, 7]", In.Of(F32, 2, 3, 9, 7), Pool2dParams.Square(3, 2, 1) with { CountIncludePad = true });
            yield return Row(op, "[1, 5, 3, 80]", In.Of(F32, 1, 5, 3, 80), new Pool2dParams(3, 2, 3, 2)); // PP-OCRv4 rec neck
            yield return Row(op, "[1, 4, 11, 13]", In.Of(F32, 1, 4, 11, 13), new Pool2dParams(5, 3, 2, 3, 2, 1));
            yield return Row(op, "[1, 3, 17, 33] 1x1", In.Of(F32, 1, 3, 17, 33), new Pool2dParams(1, 1, 1, 1));
            yield return Row(op, "global [2, 7, 17, 33]", In.Of(F32, 2, 7, 17, 33), new Pool2dParams(17, 33, 1, 1));
            yield return Row(op, "NHWC perm [1, 3, 7, 9]", In.Of(F32, 1, 7, 9, 3).Viewed(t => t.Permute(0, 3, 1, 2)), Pool2dParams.Square(3, 1, 1));
            yield return Row(op, "[1, 3, 7, 9]", In.Of(F16, 1, 3, 7, 9), Pool2dParams.Square(2, 1));
            yield return Row(op, "[1, 3, 7, 9]", In.Of(BF16, 1, 3, 7, 9), Pool2dParams.Square(3, 2, 1));
        }
        yield return Row(PoolOp.Avg, "many planes [4, 129, 5, 6]", In.Of(F32, 4, 129, 5, 6), new Pool2dParams(5, 6, 1, 1));
    }

    private static readonly CpuOpRows s_rows = new(Rows);

    public static IEnumerable<object[]> Cases() => s_rows.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Pool(string row, string backend) => s_rows.Check(row, backend);

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
