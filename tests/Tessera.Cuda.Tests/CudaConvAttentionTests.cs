namespace Tessera.Cuda.Tests;

/// <summary>The CUDA convolution, patch embedding, fused and paged attention against the CPU backend. Where no
/// driver or device exists each test is reported as skipped with the reason.</summary>
public sealed class CudaConvAttentionTests : CudaOpTestBase
{
    [Fact]
    public void Host_mirrors_of_conv_and_attention_structs_match_the_kernels()
    {
        KernelMirror.AssertSameLayout<Tessera.Kernels.Tensor4, Tensor4Arg>();
        KernelMirror.AssertSameLayout<Tessera.Kernels.ConvGeom, ConvGeomArg>();
        KernelMirror.AssertSameLayout<Tessera.Kernels.AttnArgs, AttnArgsArg>();
    }

    [SkippableTheory]
    [InlineData(1, 1, 0, 1, 1)] [InlineData(2, 2, 1, 1, 1)] [InlineData(1, 1, 2, 2, 1)] [InlineData(1, 1, 1, 1, 2)] [InlineData(1, 2, 1, 1, 8)]
    public void Conv2d_matches_cpu(int stride, int batch, int pad, int dilation, int groups)
    {
        const int c = 8, h = 23, w = 19, o = 16, k = 3;
        var (xc, xg) = Pair(Values(batch * c * h * w, 31), batch, c, h, w);
        var (wc, wg) = Pair(Values(o * (c / groups) * k * k, 32), o, c / groups, k, k);
        var (bc, bg) = Pair(Values(o, 33), o);
        using (xc) using (xg) using (wc) using (wg) using (bc) using (bg)
        {
            var p = Conv2dParams.Square(stride, pad, dilation, groups);
            using var yc = xc.Conv2d(wc, bc, p); using var yg = xg.Conv2d(wg, bg, p);
            Assert.Equal(yc.Shape, yg.Shape);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableFact]
    public void PatchEmbed_matches_cpu()
    {
        var (xc, xg) = Pair(Values(2 * 3 * 32 * 48, 34), 2, 3, 32, 48);
        var (wc, wg) = Pair(Values(40 * 3 * 16 * 16, 35), 40, 3, 16, 16);
        var (bc, bg) = Pair(Values(40, 36), 40);
        using (xc) using (xg) using (wc) using (wg) using (bc) using (bg)
        {
            using var yc = xc.PatchEmbed(wc, bc); using var yg = xg.PatchEmbed(wg, bg);
            Assert.Equal(yc.Shape, yg.Shape);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    // ---- attention (AttentionKernels.Flash, PagedAttentionKernels.Paged) ---------------------------------

    [SkippableTheory]
    [InlineData(64, 8, 2, 197, 197, false, -1, false)]
    [InlineData(64, 8, 8, 1, 300, true, -1, false)]
    [InlineData(128, 4, 1, 70, 130, true, 33, true)]
    [InlineData(256, 2, 2, 17, 50, false, -1, true)]
    [InlineData(80, 6, 3, 45, 45, true, -1, false)]
    [InlineData(64, 8, 8, 1, 3000, true, -1, true)]   // decode over a long cache: the split-K (flash-decoding) path
    [InlineData(128, 8, 2, 4, 2500, true, 1000, false)]
    public void Attention_matches_cpu(int d, int hq, int hkv, int sq, int skv, bool causal, int windowLeft, bool mask)
    {
        const int b = 2;
        var o = new AttentionOptions { Causal = causal, WindowLeft = windowLeft };
        // q stored [B, S, H, D] and permuted to [B, H, S, D]: a strided view on both backends.
        var (qc, qg) = Pair(Values(b * sq * hq * d, 41, -1, 1), b, sq, hq, d);
        var (kc, kg) = Pair(Values(b * hkv * skv * d, 42, -1, 1), b, hkv, skv, d);
        var (vc, vg) = Pair(Values(b * hkv * skv * d, 43, -1, 1), b, hkv, skv, d);
        var (mc, mg) = Pair(Values(sq * skv, 44, -2, 0), 1, 1, sq, skv);
        using (qc) using (qg) using (kc) using (kg) using (vc) using (vg) using (mc) using (mg)
        {
            using var qcv = qc.Permute(0, 2, 1, 3); using var qgv = qg.Permute(0, 2, 1, 3);
            var (oc, lc) = qcv.AttentionWithLse(kc, vc, o, mask ? mc : null);
            var (og, lg) = qgv.AttentionWithLse(kg, vg, o, mask ? mg : null);
            using (oc) using (lc) using (og) using (lg)
            {
                AssertClose(oc.ToArray<float>(), og.ToArray<float>(), 1e-10);
                AssertClose(lc.ToArray<float>(), lg.ToArray<float>(), 1e-10);
            }
        }
    }

    [SkippableFact]
    public void Bf16_attention_matches_cpu()
    {
        var (qc, qg) = Pair(Values(1 * 4 * 33 * 64, 45, -1, 1), 1, 4, 33, 64);
        var (kc, kg) = Pair(Values(1 * 2 * 40 * 64, 46, -1, 1), 1, 2, 40, 64);
        var (vc, vg) = Pair(Values(1 * 2 * 40 * 64, 47, -1, 1), 1, 2, 40, 64);
        using (qc) using (qg) using (kc) using (kg) using (vc) using (vg)
        {
            using var q1 = qc.To(DType.BF16); using var k1 = kc.To(DType.BF16); using var v1 = vc.To(DType.BF16);
            using var q2 = qg.To(DType.BF16); using var k2 = kg.To(DType.BF16); using var v2 = vg.To(DType.BF16);
            var o = new AttentionOptions { Causal = true };
            using var oc = q1.Attention(k1, v1, o); using var og = q2.Attention(k2, v2, o);
            Assert.Equal(DType.BF16, og.DType);
            AssertClose(oc.ToFloatArray(), og.ToFloatArray(), 1e-4);
        }
    }

    [SkippableTheory]
    [InlineData(64, 16)] [InlineData(128, 8)]
    public void PagedAttention_matches_cpu(int d, int blockSize)
    {
        const int hq = 8, hkv = 2, sq = 9;
        int[] lens = [1, 50, 77, 33], qlens = [1, 9, 4, 0];
        int n = lens.Length, maxBlocks = 77 / blockSize + 1, numBlocks = n * maxBlocks + 5;
        var r = new Random(d + blockSize);
        var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => r.Next()).ToArray();
        var tables = new int[n * maxBlocks];
        int next = 0;
        for (int s = 0; s < n; s++) for (int t = 0; t < (lens[s] + blockSize - 1) / blockSize; t++) tables[s * maxBlocks + t] = perm[next++];
        var (qc, qg) = Pair(Values(n * hq * sq * d, 48, -1, 1), n, hq, sq, d);
        var (kc, kg) = Pair(Values(numBlocks * hkv * blockSize * d, 49, -1, 1), numBlocks, hkv, blockSize, d);
        var (vc, vg) = Pair(Values(numBlocks * hkv * blockSize * d, 50, -1, 1), numBlocks, hkv, blockSize, d);
        using var tc = Tensor.FromArray(_cpu, tables, n, maxBlocks); using var tg = Tensor.FromArray(Gpu, tables, n, maxBlocks);
        using var lc = Tensor.FromArray(_cpu, lens, n); using var lg = Tensor.FromArray(Gpu, lens, n);
        using var ql1 = Tensor.FromArray(_cpu, qlens, n); using var ql2 = Tensor.FromArray(Gpu, qlens, n);
        using (qc) using (qg) using (kc) using (kg) using (vc) using (vg)
        {
            var o = new AttentionOptions { Causal = true };
            using var oc = qc.PagedAttention(kc, vc, tc, lc, o, ql1);
            using var og = qg.PagedAttention(kg, vg, tg, lg, o, ql2);
            AssertClose(oc.ToArray<float>(), og.ToArray<float>(), 1e-10);
            // A table entry outside the pool is an error naming it, not a read out of bounds.
            tables[1 * maxBlocks] = numBlocks + 3;
            using var bad = Tensor.FromArray(Gpu, tables, n, maxBlocks);
            var e = Assert.Throws<TesseraException>(() => qg.PagedAttention(kg, vg, bad, lg, o, ql2).Dispose());
            Assert.Contains("blockTables[1, 0]", e.Message);
        }
    }

    [SkippableFact]
    public void Long_paged_decode_takes_the_split_k_path_and_matches_cpu()
    {
        const int d = 64, hq = 8, hkv = 8, bs = 16;
        int[] lens = [700, 1, 1300];
        int n = lens.Length, maxBlocks = 1300 / bs + 1, numBlocks = n * maxBlocks;
        var tables = Enumerable.Range(0, n * maxBlocks).Reverse().ToArray(); // every sequence's blocks in reverse pool order
        var (qc, qg) = Pair(Values(n * hq * d, 51, -1, 1), n, hq, 1, d);
        var (kc, kg) = Pair(Values(numBlocks * hkv * bs * d, 52, -1, 1), numBlocks, hkv, bs, d);
        var (vc, vg) = Pair(Values(numBlocks * hkv * bs * d, 53, -1, 1), numBlocks, hkv, bs, d);
        using var tc = Tensor.FromArray(_cpu, tables, n, maxBlocks); using var tg = Tensor.FromArray(Gpu, tables, n, maxBlocks);
        using var lc = Tensor.FromArray(_cpu, lens, n); using var lg = Tensor.FromArray(Gpu, lens, n);
        using (qc) using (qg) using (kc) using (kg) using (vc) using (vg)
        {
            var o = new AttentionOptions { Causal = true };
            using var oc = qc.PagedAttention(kc, vc, tc, lc, o); using var og = qg.PagedAttention(kg, vg, tg, lg, o);
            AssertClose(oc.ToArray<float>(), og.ToArray<float>(), 1e-10);
        }
    }
}
