namespace Tessera.Cuda.Tests;

/// <summary>The CUDA element-wise ops, fills, conversions and events against the CPU backend. Where no driver or
/// device exists each test is reported as skipped with the reason.</summary>
public sealed class CudaElementwiseTests : CudaOpTestBase
{
    [SkippableFact]
    public void Upload_download_and_fill_round_trip()
    {
        var g = Gpu;
        var x = Values(1000, 1);
        using var t = Tensor.FromArray(g, x, 10, 100);
        Assert.Equal(x, t.ToArray<float>());
        using var f = Tensor.Full(g, DType.F32, new Shape(7, 33), 1.25);
        Assert.All(f.ToArray<float>(), v => Assert.Equal(1.25f, v));
        using var h = Tensor.Full(g, DType.BF16, new Shape(5, 3), -2);
        g.Synchronize();
        Assert.All(h.ToFloatArray(), v => Assert.Equal(-2f, v));
    }

    [SkippableTheory]
    [MemberData(nameof(UnaryOps))]
    public void Unary_matches_cpu(UnaryOp op)
    {
        var g = Gpu;
        bool positive = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt;
        var x = Values(4099, (int)op, positive ? 0.01f : -5f, 5f);
        using var xc = Tensor.FromArray(_cpu, x, 4099);
        using var xg = Tensor.FromArray(g, x, 4099);
        using var yc = xc.Map(op);
        using var yg = xg.Map(op);
        AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
    }

    public static TheoryData<UnaryOp> UnaryOps() => [.. Enum.GetValues<UnaryOp>()];

    [SkippableTheory]
    [MemberData(nameof(BinaryOps))]
    public void Binary_with_broadcast_and_transposed_operands_matches_cpu(BinaryOp op)
    {
        var g = Gpu;
        var a = Values(37 * 53, 1); var b = Values(53, 2, 0.5f, 2f);
        using var ac = Tensor.FromArray(_cpu, a, 53, 37); using var bc = Tensor.FromArray(_cpu, b, 53);
        using var ag = Tensor.FromArray(g, a, 53, 37); using var bg = Tensor.FromArray(g, b, 53);
        using var atc = ac.T; using var atg = ag.T; // [37, 53] strided
        using var rc = atc.Zip(op, bc); using var rg = atg.Zip(op, bg);
        AssertClose(rc.ToArray<float>(), rg.ToArray<float>());
        using var fc = ac.Zip(op, ac); using var fg = ag.Zip(op, ag); // contiguous f32 path
        AssertClose(fc.ToArray<float>(), fg.ToArray<float>());
    }

    public static TheoryData<BinaryOp> BinaryOps() => [.. Enum.GetValues<BinaryOp>()];

    [SkippableFact]
    public void Affine_and_dtype_conversions_match_cpu()
    {
        var g = Gpu;
        var x = Values(3 * 257, 3, -100f, 100f);
        using var xc = Tensor.FromArray(_cpu, x, 3, 257); using var xg = Tensor.FromArray(g, x, 3, 257);
        using var ac = xc.Affine(0.5, -2); using var ag = xg.Affine(0.5, -2);
        AssertClose(ac.ToArray<float>(), ag.ToArray<float>());
        foreach (var dt in new[] { DType.F16, DType.BF16 })
        {
            using var cc = xc.To(dt); using var cg = xg.To(dt); // f32 -> f16/bf16, round to nearest even
            Assert.Equal(cc.ToFloatArray(), cg.ToFloatArray());
            using var uc = cc.Map(UnaryOp.Gelu); using var ug = cg.Map(UnaryOp.Gelu); // strided-kernel path, 16-bit in and out
            AssertClose(uc.ToFloatArray(), ug.ToFloatArray(), 1e-4);
        }
        using var nc = xc.Narrow(1, 3, 100); using var ng = xg.Narrow(1, 3, 100);
        using var contc = nc.Contiguous(); using var contg = ng.Contiguous(); // strided copy
        Assert.Equal(contc.ToArray<float>(), contg.ToArray<float>());
    }

    [SkippableFact]
    public void Ops_without_kernels_say_so()
    {
        var g = Gpu;
        // Pooling came with the OCR models and has no CUDA kernel yet: the backend says so, naming the input.
        using var x = Tensor.Zeros(g, DType.F32, new Shape(1, 1, 4, 4));
        var e = Assert.Throws<TesseraException>(() => { using var _ = x.GlobalAvgPool2d(); });
        Assert.Contains("the cuda backend has no avg pooling yet", e.Message);
        Assert.Contains("[1, 1, 4, 4]", e.Message);
    }

    [SkippableFact]
    public void Events_time_queued_work()
    {
        var g = Gpu;
        using var t = Tensor.Zeros(g, DType.F32, new Shape(1 << 20));
        double ms = g.TimeMilliseconds(() => g.Fill(t, 3));
        Assert.True(ms >= 0);
        Assert.Equal(3f, t.ToArray<float>()[^1]);
    }
}
