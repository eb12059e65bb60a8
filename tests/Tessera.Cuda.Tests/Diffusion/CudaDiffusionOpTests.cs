namespace Tessera.Cuda.Tests.Diffusion;

/// <summary>The op rows of the diffusion audit that the other CUDA op tests do not reach, each against the CPU backend
/// at odd shapes (skipped with the reason without a driver): nearest upsampling (a stride-0 strided copy plus an
/// in-place add, freeing its input), the conv epilogue CUDA runs as in-place element-wise passes, attention
/// at the head dims diffusion models use (the tiny and DiT-XL heads, and a VAE mid block's single wide head over
/// enough keys to take the split-K path), LayerNorm without affine at a DiT width and GroupNorm at the VAE's and
/// TAEF2's shapes.</summary>
public sealed class CudaDiffusionOpTests : CudaOpTestBase
{
    [SkippableTheory]
    [InlineData(2, 2, false)] [InlineData(3, 3, true)] [InlineData(1, 4, false)] [InlineData(3, 2, false)]
    public void UpsampleNearest_of_a_strided_view_with_an_addend_matches_cpu(int scaleH, int scaleW, bool addend)
    {
        const int b = 2, c = 3, h = 7, w = 5;
        var (xc, xg) = Pair(Values(b * c * w * h, 51), b, c, w, h);
        // (UpsampleNearestAdd takes one scale for both axes.)
        var (ac, ag) = Pair(Values(b * c * h * scaleH * w * scaleW, 52), b, c, h * scaleH, w * scaleW);
        using (xc) using (xg) using (ac) using (ag)
        {
            using var tc = xc.Transpose(2, 3); using var tg = xg.Transpose(2, 3); // [B, C, H, W] with swapped strides
            using var yc = addend ? tc.UpsampleNearestAdd(ac, scaleH) : tc.UpsampleNearest(scaleH, scaleW);
            using var yg = addend ? tg.UpsampleNearestAdd(ag, scaleH) : tg.UpsampleNearest(scaleH, scaleW);
            Assert.Equal(yc.Shape, yg.Shape);
            Assert.Equal(yc.ToArray<float>(), yg.ToArray<float>()); // a copy and one add: exact
        }
    }

    [SkippableFact]
    public void UpsampleNearest_leaves_no_reference_on_its_input()
    {
        var x = Tensor.FromArray(Gpu, Values(2 * 3 * 4 * 5, 61), 2, 3, 4, 5);
        var storage = x.Storage;
        using (var y = x.UpsampleNearest(2)) Assert.Equal(new Shape(2, 3, 8, 10), y.Shape);
        x.Dispose();
        Assert.True(storage.IsFreed, "the input's device memory is still referenced after the upsample");
    }

    [SkippableTheory]
    [InlineData(3, Activation.Relu, 1f, 0f)] [InlineData(3, Activation.Silu, 1f, 0f)] [InlineData(1, Activation.None, 0.5f, 0.25f)]
    [InlineData(3, Activation.HardSwish, 2f, -1f)]
    public void Conv2d_with_its_epilogue_matches_cpu(int k, Activation act, float scale, float shift)
    {
        const int b = 2, c = 9, h = 11, w = 7, o = 67;
        var (xc, xg) = Pair(Values(b * c * h * w, 53), b, c, h, w);
        var (wc, wg) = Pair(Values(o * c * k * k, 54, -0.3f, 0.3f), o, c, k, k);
        var (bc, bg) = Pair(Values(o, 55), o);
        using (xc) using (xg) using (wc) using (wg) using (bc) using (bg)
        {
            var p = new Conv2dParams(1, 1, k / 2, k / 2, Activation: act, OutScale: scale, OutShift: shift);
            using var yc = xc.Conv2d(wc, bc, p); using var yg = xg.Conv2d(wg, bg, p);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
            using var nc = xc.Conv2d(wc, null, p); using var ng = xg.Conv2d(wg, null, p);
            AssertClose(nc.ToArray<float>(), ng.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(2, 2, 8, 35)]    // the tiny DiT / MMDiT heads of the end-to-end tests
    [InlineData(2, 16, 72, 67)]  // DiT-XL/2: 16 heads of 72
    [InlineData(1, 1, 256, 600)] // a VAE mid block's single head at the fused op's limit, 600 keys: split-K on a big GPU
    public void Attention_at_diffusion_head_dims_matches_cpu(int b, int heads, int d, int s)
    {
        // q, k and v sliced from one [B, S, 3, H, D] projection and permuted, as the models' attention does.
        var (pc, pg) = Pair(Values(b * s * 3 * heads * d, 56, -1, 1), b, s, 3, heads, d);
        using (pc) using (pg)
        {
            Tensor Part(Tensor p, int i)
            {
                using var part = p.Select(2, i);                        // [B, S, H, D], a strided view
                return part.Permute(0, 2, 1, 3);
            }
            using Tensor qc = Part(pc, 0), kc = Part(pc, 1), vc = Part(pc, 2), qg = Part(pg, 0), kg = Part(pg, 1), vg = Part(pg, 2);
            var (oc, lc) = qc.AttentionWithLse(kc, vc, AttentionOptions.Default, null);
            var (og, lg) = qg.AttentionWithLse(kg, vg, AttentionOptions.Default, null);
            using (oc) using (lc) using (og) using (lg)
            {
                AssertClose(oc.ToArray<float>(), og.ToArray<float>(), 1e-10);
                AssertClose(lc.ToArray<float>(), lg.ToArray<float>(), 1e-10);
            }
        }
    }

    [SkippableTheory]
    [InlineData(2, 32, 8, 9, 11)] [InlineData(1, 256, 4, 5, 7)] [InlineData(1, 264, 8, 3, 3)]
    public void GroupNorm_with_affine_at_vae_shapes_matches_cpu(int b, int c, int groups, int h, int w)
    {
        var (xc, xg) = Pair(Values(b * c * h * w, 57, -2, 3), b, c, h, w);
        var (wc, wg) = Pair(Values(c, 58), c);
        var (bc, bg) = Pair(Values(c, 59), c);
        using (xc) using (xg) using (wc) using (wg) using (bc) using (bg)
        {
            using var yc = xc.GroupNorm(groups, wc, bc); using var yg = xg.GroupNorm(groups, wg, bg);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableFact]
    public void LayerNorm_without_affine_at_a_dit_width_matches_cpu()
    {
        var (xc, xg) = Pair(Values(2 * 17 * 1152, 60, -2, 5), 2, 17, 1152);
        using (xc) using (xg)
        {
            using var yc = xc.LayerNorm(null, null, 1e-6f); using var yg = xg.LayerNorm(null, null, 1e-6f);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }
}
