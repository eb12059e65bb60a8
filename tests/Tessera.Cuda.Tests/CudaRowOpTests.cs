namespace Tessera.Cuda.Tests;

/// <summary>The CUDA softmax, norms, rotary embedding, gather, reductions and bicubic resampling against the CPU
/// backend. Where no driver or device exists each test is reported as skipped with the reason.</summary>
public sealed class CudaRowOpTests : CudaOpTestBase
{
    [SkippableTheory]
    [InlineData(1)] [InlineData(77)] [InlineData(1000)] [InlineData(32000)]
    public void Softmax_with_mask_and_scale_matches_cpu(int n)
    {
        var (xc, xg) = Pair(Values(6 * n, 21), 2, 3, n);
        var mv = Values(n, 22);
        mv[0] = float.NegativeInfinity;
        var (mc, mg) = Pair(mv, n);
        using (xc) using (xg) using (mc) using (mg)
        {
            using var mbc = mc.BroadcastTo(xc.Shape); using var mbg = mg.BroadcastTo(xg.Shape);
            using var yc = xc.Softmax(mbc, 0.125f); using var yg = xg.Softmax(mbg, 0.125f);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
            using var tc = xc.Transpose(0, 1); using var tg = xg.Transpose(0, 1); // strided rows
            using var zc = tc.Softmax(); using var zg = tg.Softmax();
            AssertClose(zc.ToArray<float>(), zg.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(1)] [InlineData(768)] [InlineData(4099)]
    public void LayerNorm_and_RmsNorm_match_cpu(int n)
    {
        var (xc, xg) = Pair(Values(5 * n, 23, 1f, 4f), 5, n);
        var (wc, wg) = Pair(Values(n, 24), n);
        var (bc, bg) = Pair(Values(n, 25), n);
        using (xc) using (xg) using (wc) using (wg) using (bc) using (bg)
        {
            using var lc = xc.LayerNorm(wc, bc); using var lg = xg.LayerNorm(wg, bg);
            AssertClose(lc.ToArray<float>(), lg.ToArray<float>());
            using var rc = xc.RmsNorm(wc); using var rg = xg.RmsNorm(wg);
            AssertClose(rc.ToArray<float>(), rg.ToArray<float>());
            using var hc = xc.To(DType.BF16); using var hg = xg.To(DType.BF16);
            using var l2c = hc.LayerNorm(null, null); using var l2g = hg.LayerNorm(null, null);
            AssertClose(l2c.ToFloatArray(), l2g.ToFloatArray(), 1e-4);
        }
    }

    [SkippableTheory]
    [InlineData(RopeMode.RotateHalf, 64, 64)] [InlineData(RopeMode.Interleaved, 64, 32)] [InlineData(RopeMode.RotateHalf, 80, 40)]
    public void Rope_on_a_permuted_view_matches_cpu(RopeMode mode, int d, int r)
    {
        const int b = 2, s = 9, h = 3;
        var (xc, xg) = Pair(Values(b * s * h * d, 26), b, s, h, d);
        var angles = Enumerable.Range(0, s * r / 2).Select(i => (float)(i / (r / 2) * Math.Pow(10000, -2.0 * (i % (r / 2)) / r))).ToArray();
        var (cc, cg) = Pair([.. angles.Select(MathF.Cos)], s, r / 2);
        var (sc, sg) = Pair([.. angles.Select(MathF.Sin)], s, r / 2);
        using (xc) using (xg) using (cc) using (cg) using (sc) using (sg)
        {
            using var pc = xc.Permute(0, 2, 1, 3); using var pg = xg.Permute(0, 2, 1, 3); // [B, H, S, D] strided
            using var yc = pc.Rope(cc, sc, mode); using var yg = pg.Rope(cg, sg, mode);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(DType.F32)] [InlineData(DType.BF16)] [InlineData(DType.Q8_0)]
    public void Gather_matches_cpu_and_reports_a_bad_id(DType dt)
    {
        var g = Gpu;
        var (tc0, tg0) = Pair(Values(50 * 64, 27), 50, 64);
        using (tc0) using (tg0)
        {
            using var tc = tc0.To(dt); using var tg = tg0.To(dt);
            int[] idv = [3, 49, 0, 7, 7, 12];
            using var ic = Tensor.FromArray(_cpu, idv, 2, 3); using var ig = Tensor.FromArray(g, idv, 2, 3);
            using var itc = ic.T; using var itg = ig.T;
            using var rc = tc.Gather(itc); using var rg = tg.Gather(itg);
            Assert.Equal(rc.To(DType.F32).ToArray<float>(), rg.To(DType.F32).ToArray<float>());
            using var bad = Tensor.FromArray(g, new long[] { 1, 50 }, 2);
            var e = Assert.Throws<TesseraException>(() => { using var _ = tg.Gather(bad); });
            Assert.Contains("id 50", e.Message);
        }
    }

    [SkippableTheory]
    [InlineData(ReduceOp.Sum)] [InlineData(ReduceOp.Mean)] [InlineData(ReduceOp.Max)] [InlineData(ReduceOp.Min)] [InlineData(ReduceOp.ArgMax)]
    public void Reduce_over_every_axis_matches_cpu(ReduceOp op)
    {
        var (xc, xg) = Pair(Values(7 * 300 * 9, 28), 7, 300, 9);
        using (xc) using (xg)
            for (int axis = 0; axis < 3; axis++)
            {
                using var rc = xc.Reduce(op, axis); using var rg = xg.Reduce(op, axis);
                if (op == ReduceOp.ArgMax) Assert.Equal(rc.ToArray<int>(), rg.ToArray<int>());
                else AssertClose(rc.ToArray<float>(), rg.ToArray<float>());
            }
    }

    [SkippableTheory]
    [InlineData(false)] [InlineData(true)]
    public void Bicubic_matches_cpu(bool alignCorners)
    {
        var (xc, xg) = Pair(Values(2 * 3 * 14 * 14, 29), 2, 3, 14, 14);
        using (xc) using (xg)
        {
            using var uc = xc.InterpolateBicubic(24, 20, alignCorners); using var ug = xg.InterpolateBicubic(24, 20, alignCorners);
            AssertClose(uc.ToArray<float>(), ug.ToArray<float>());
            using var dc = xc.InterpolateBicubic(9, 5, alignCorners); using var dg = xg.InterpolateBicubic(9, 5, alignCorners);
            AssertClose(dc.ToArray<float>(), dg.ToArray<float>());
        }
    }
}
