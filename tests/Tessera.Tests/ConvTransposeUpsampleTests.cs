using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>Transposed convolution and nearest upsampling against <see cref="NaiveConvTranspose"/>, in the op table's
/// format: every parameter (stride, padding, output padding, dilation, groups), odd sizes, strided inputs, f16/bf16,
/// and the DB head's 2x2 stride-2 case. CPU backends only: the CUDA backend refuses conv_transpose2d (IBackend's
/// default body) until it has a kernel; nearest upsampling is built from views and runs anywhere.</summary>
public class ConvTransposeUpsampleTests
{
    private static OpRow ConvT(string label, In x, In w, ConvTranspose2dParams p, bool bias = true, double? tol = null)
    {
        int o = w.BaseShape[1] * p.Groups;
        var ins = bias ? new[] { x, w, In.Of(x.DType, o) } : [x, w];
        return new($"ConvTranspose2d {label} s{p.StrideH}x{p.StrideW} p{p.PadH}x{p.PadW} op{p.OutputPadH}x{p.OutputPadW} d{p.DilationH}x{p.DilationW} g{p.Groups}{(bias ? " bias" : "")} {x.DType.Name()}",
            ins, t => t[0].ConvTranspose2d(t[1], bias ? t[2] : null, p), r => NaiveConvTranspose.ConvTranspose2d(r[0], r[1], bias ? r[2] : null, p),
            check: Check.Nmse, tolerance: tol);
    }

    private static OpRow Up(string label, In x, int sh, int sw) =>
        new($"UpsampleNearest {label} x{sh}x{sw} {x.DType.Name()}", [x], t => t[0].UpsampleNearest(sh, sw),
            r => NaiveConvTranspose.UpsampleNearest(r[0], sh, sw), check: Check.Exact);

    private static IEnumerable<OpRow> Rows()
    {
        var sq = ConvTranspose2dParams.Square;
        yield return ConvT("DB head [1, 24, 10, 12]", In.Of(F32, 1, 24, 10, 12), In.Of(F32, 24, 24, 2, 2), sq(2));
        yield return ConvT("DB head out [1, 24, 7, 9]", In.Of(F32, 1, 24, 7, 9), In.Of(F32, 24, 1, 2, 2), sq(2));
        yield return ConvT("[2, 3, 5, 7] 3x3", In.Of(F32, 2, 3, 5, 7), In.Of(F32, 3, 4, 3, 3), sq(1, 1));
        yield return ConvT("[1, 4, 6, 5] 3x3", In.Of(F32, 1, 4, 6, 5), In.Of(F32, 4, 3, 3, 3), sq(2, 1, 1), bias: false);
        yield return ConvT("[1, 4, 5, 6] 4x3", In.Of(F32, 1, 4, 5, 6), In.Of(F32, 4, 2, 4, 3),
            new ConvTranspose2dParams(StrideH: 3, StrideW: 2, PadH: 1, PadW: 2, OutputPadH: 2, OutputPadW: 1, DilationH: 1, DilationW: 2));
        yield return ConvT("groups [2, 6, 4, 5]", In.Of(F32, 2, 6, 4, 5), In.Of(F32, 6, 2, 3, 2),
            new ConvTranspose2dParams(StrideH: 2, StrideW: 1, PadH: 1, DilationH: 2, Groups: 3));
        yield return ConvT("depthwise [1, 5, 6, 6]", In.Of(F32, 1, 5, 6, 6), In.Of(F32, 5, 1, 3, 3), sq(2, 1, 1, 1, 5));
        yield return ConvT("NHWC perm [1, 3, 5, 7]", In.Of(F32, 1, 5, 7, 3).Viewed(t => t.Permute(0, 3, 1, 2)), In.Of(F32, 3, 4, 2, 2), sq(2));
        yield return ConvT("1x1 [1, 8, 3, 3]", In.Of(F32, 1, 8, 3, 3), In.Of(F32, 8, 5, 1, 1), sq());
        yield return ConvT("[1, 4, 5, 6]", In.Of(F16, 1, 4, 5, 6), In.Of(F16, 4, 3, 2, 2), sq(2));
        yield return ConvT("[1, 4, 5, 6]", In.Of(BF16, 1, 4, 5, 6), In.Of(BF16, 4, 3, 3, 3), sq(2, 1, 1));

        yield return Up("[1, 2, 3, 4]", In.Of(F32, 1, 2, 3, 4), 2, 2);
        yield return Up("[2, 3, 5, 7]", In.Of(F32, 2, 3, 5, 7), 8, 8);
        yield return Up("[1, 3, 4, 5]", In.Of(F32, 1, 3, 4, 5), 3, 1);
        yield return Up("[1, 1, 1, 1]", In.Of(F32, 1, 1, 1, 1), 4, 4);
        yield return Up("perm [1, 3, 4, 5]", In.Of(F32, 1, 4, 5, 3).Viewed(t => t.Permute(0, 3, 1, 2)), 2, 2);
        yield return Up("[1, 2, 3, 3]", In.Of(BF16, 1, 2, 3, 3), 2, 2);
    }

    private static readonly CpuOpRows s_rows = new(Rows);

    public static IEnumerable<object[]> Cases() => s_rows.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Op(string row, string backend) => s_rows.Check(row, backend);

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
