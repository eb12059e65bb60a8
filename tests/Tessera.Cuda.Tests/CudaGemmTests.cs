namespace Tessera.Cuda.Tests;

/// <summary>The CUDA GEMM (plain, batched and transposed with every epilogue, f16/bf16) against the CPU backend.
/// Where no driver or device exists each test is reported as skipped with the reason.</summary>
public sealed class CudaGemmTests : CudaOpTestBase
{
    [Fact]
    public void Host_mirrors_of_kernel_argument_structs_match_the_kernels()
    {
        KernelMirror.AssertSameLayout<Tessera.Kernels.GemmArgs, GemmArgsArg>();
        KernelMirror.AssertSameLayout<Tessera.Kernels.VecArg, VecArgHost>();
    }

    [SkippableTheory]
    [InlineData(1, 1, 1)] [InlineData(7, 33, 65)] [InlineData(197, 768, 300)] [InlineData(64, 64, 64)]
    public void MatMul_matches_cpu(int m, int k, int n)
    {
        var (ac, ag) = Pair(Values(m * k, 11), m, k);
        var (bc, bg) = Pair(Values(k * n, 12), k, n);
        using (ac) using (ag) using (bc) using (bg)
        {
            using var rc = ac.MatMul(bc); using var rg = ag.MatMul(bg);
            AssertClose(rc.ToArray<float>(), rg.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(Activation.None)] [InlineData(Activation.Gelu)] [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.QuickGelu)] [InlineData(Activation.Silu)] [InlineData(Activation.Relu)]
    public void Batched_transposed_matmul_with_epilogue_matches_cpu(Activation act)
    {
        // a [3, 45, 70] as the transpose of [3, 70, 45]; b [70, 33] as the transpose of [33, 70], broadcast over
        // the batch; bias [33]; a transposed residual.
        var (a0c, a0g) = Pair(Values(3 * 70 * 45, 13), 3, 70, 45);
        var (b0c, b0g) = Pair(Values(33 * 70, 14), 33, 70);
        var (biasc, biasg) = Pair(Values(33, 15), 33);
        var (r0c, r0g) = Pair(Values(3 * 33 * 45, 16), 3, 33, 45);
        using (a0c) using (a0g) using (b0c) using (b0g) using (biasc) using (biasg) using (r0c) using (r0g)
        {
            using var atc = a0c.Transpose(1, 2); using var atg = a0g.Transpose(1, 2);
            using var btc = b0c.T; using var btg = b0g.T;
            using var rtc = r0c.Transpose(1, 2); using var rtg = r0g.Transpose(1, 2);
            using var yc = atc.MatMul(btc, new MatMulEpilogue(biasc, act, rtc));
            using var yg = atg.MatMul(btg, new MatMulEpilogue(biasg, act, rtg));
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(DType.F16)] [InlineData(DType.BF16)]
    public void Half_precision_matmul_matches_cpu(DType dt)
    {
        var (ac, ag) = Pair(Values(67 * 129, 17), 67, 129);
        var (bc, bg) = Pair(Values(129 * 80, 18), 129, 80);
        using (ac) using (ag) using (bc) using (bg)
        {
            using var ahc = ac.To(dt); using var ahg = ag.To(dt); using var bhc = bc.To(dt); using var bhg = bg.To(dt);
            using var rc = ahc.MatMul(bhc); using var rg = ahg.MatMul(bhg);
            AssertClose(rc.ToFloatArray(), rg.ToFloatArray(), dt == DType.F16 ? 1e-6 : 3e-5);
        }
    }
}
