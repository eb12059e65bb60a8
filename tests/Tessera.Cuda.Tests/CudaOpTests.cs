using Tessera.Cpu;

namespace Tessera.Cuda.Tests;

/// <summary>The CUDA element-wise ops against the CPU backend, where a driver and a device exist; elsewhere
/// each test is reported as skipped with the reason.</summary>
public sealed class CudaOpTests : IDisposable
{
    private readonly CudaBackend? _gpu;
    private readonly string _why = "";
    private readonly CpuBackend _cpu = new();

    public CudaOpTests() => CudaBackend.TryCreate(0, out _gpu, out _why);

    public void Dispose() => _gpu?.Dispose();

    private CudaBackend Gpu
    {
        get
        {
            Skip.If(_gpu is null, $"no CUDA: {_why}");
            return _gpu!;
        }
    }

    private static float[] Values(int n, int seed, float lo = -3f, float hi = 3f)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(lo + (hi - lo) * r.NextDouble()))];
    }

    private static void AssertClose(float[] want, float[] got, double nmse = 1e-7)
    {
        Assert.Equal(want.Length, got.Length);
        double err = 0, norm = 0;
        for (int i = 0; i < want.Length; i++) { err += Math.Pow(want[i] - (double)got[i], 2); norm += (double)want[i] * want[i]; }
        Assert.True(err <= nmse * Math.Max(norm, 1e-30), $"normalised MSE {err / Math.Max(norm, 1e-30):E2}");
    }

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

    // ---- kernel families beyond element-wise ------------------------------------------------------------

    private (Tensor Cpu, Tensor Gpu) Pair(float[] data, params int[] shape) =>
        (Tensor.FromArray(_cpu, data, shape), Tensor.FromArray(Gpu, data, shape));

    [Fact]
    public void Host_mirrors_of_kernel_argument_structs_match_the_kernels()
    {
        static void Same<TKernel, THost>()
        {
            var k = typeof(TKernel).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
            var h = typeof(THost).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
            Assert.Equal(System.Runtime.InteropServices.Marshal.SizeOf<TKernel>(), System.Runtime.InteropServices.Marshal.SizeOf<THost>());
            Assert.Equal(k.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<TKernel>(f.Name))),
                h.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<THost>(f.Name))));
        }
        Same<Tessera.Kernels.GemmArgs, GemmArgsArg>();
        Same<Tessera.Kernels.VecArg, VecArgHost>();
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

    [SkippableFact]
    public void Gemm_throughput_is_reported()
    {
        var g = Gpu;
        const int n = 2048;
        using var a = Tensor.FromArray(g, Values(n * n, 19), n, n);
        using var b = Tensor.FromArray(g, Values(n * n, 20), n, n);
        using (a.MatMul(b)) { } // load the module
        double ms = g.TimeMilliseconds(() => { for (int i = 0; i < 10; i++) using (a.MatMul(b)) { } }) / 10;
        Console.WriteLine($"cuda f32 GEMM {n}^3: {ms:F3} ms, {2.0 * n * n * n / ms / 1e6:F0} GFLOP/s on {g.Info}");
        Assert.True(ms > 0);
    }

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

    // ---- conv2d and patch embedding (ConvKernels.ImplicitGemm) --------------------------------------------

    [Fact]
    public void Host_mirrors_of_conv_and_attention_structs_match_the_kernels()
    {
        static void Same<TKernel, THost>()
        {
            var k = typeof(TKernel).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
            var h = typeof(THost).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
            Assert.Equal(System.Runtime.InteropServices.Marshal.SizeOf<TKernel>(), System.Runtime.InteropServices.Marshal.SizeOf<THost>());
            Assert.Equal(k.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<TKernel>(f.Name))),
                h.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<THost>(f.Name))));
        }
        Same<Tessera.Kernels.Tensor4, Tensor4Arg>();
        Same<Tessera.Kernels.ConvGeom, ConvGeomArg>();
        Same<Tessera.Kernels.AttnArgs, AttnArgsArg>();
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

    // ---- quantized matmul (QuantKernels) ------------------------------------------------------------------

    [Fact]
    public void Host_mirror_of_the_quantized_matmul_arguments_matches_the_kernel()
    {
        var k = typeof(Tessera.Kernels.QMatArgs).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
        var h = typeof(QMatArgsArg).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
        Assert.Equal(System.Runtime.InteropServices.Marshal.SizeOf<Tessera.Kernels.QMatArgs>(), System.Runtime.InteropServices.Marshal.SizeOf<QMatArgsArg>());
        Assert.Equal(k.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<Tessera.Kernels.QMatArgs>(f.Name))),
            h.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<QMatArgsArg>(f.Name))));
    }

    /// <summary>A random weight [N, K] in GGUF's byte layout (random quants and packed scales, small f16 scales) on
    /// both backends, with per-row f32 scales for I8.</summary>
    private (Tensor Cpu, Tensor Gpu, Tensor? CpuScales, Tensor? GpuScales) QuantWeight(DType type, int n, int k, int seed)
    {
        var rng = new Random(seed);
        var bytes = new byte[type.ByteCount((long)n * k)];
        rng.NextBytes(bytes);
        if (type != DType.I8)
            for (long at = 0; at < bytes.Length; at += type.BlockBytes())
            {
                float s = 0.002f + 0.01f * (float)rng.NextDouble();
                BitConverter.TryWriteBytes(bytes.AsSpan((int)at + (type == DType.Q6_K ? 208 : 0)), (Half)s);
                if (type is DType.Q4_1 or DType.Q4_K)
                    BitConverter.TryWriteBytes(bytes.AsSpan((int)at + 2), (Half)(type == DType.Q4_1 ? -8 * s : 0.01f * (float)rng.NextDouble()));
            }
        using var uc = Tensor.FromArray(_cpu, bytes, bytes.Length);
        using var ug = Tensor.FromArray(Gpu, bytes, bytes.Length);
        var wc = Tensor.FromStorage(uc.Storage, type, new Shape(n, k));
        var wg = Tensor.FromStorage(ug.Storage, type, new Shape(n, k));
        if (type != DType.I8) return (wc, wg, null, null);
        var sc = Values(n, seed + 1, 0.001f, 0.01f);
        return (wc, wg, Tensor.FromArray(_cpu, sc, n), Tensor.FromArray(Gpu, sc, n));
    }

    public static TheoryData<DType, int, int, int> QuantCases()
    {
        var d = new TheoryData<DType, int, int, int>();
        foreach (var t in new[] { DType.I8, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q4_K, DType.Q6_K })
        {
            if (t == DType.I8) { d.Add(t, 1, 130, 65); d.Add(t, 9, 33, 70); }
            d.Add(t, 1, 1024, 300);
            d.Add(t, 3, 512, 33);
            d.Add(t, 67, 768, 129);
        }
        return d;
    }

    [SkippableTheory]
    [MemberData(nameof(QuantCases))]
    public void QuantizedMatMul_matches_cpu(DType type, int m, int k, int n)
    {
        var g = Gpu;
        var (wc, wg, sc, sg) = QuantWeight(type, n, k, m + k + n);
        // x as a strided view (the transpose of [K, M]); bias, SiLU and a residual in the second pass.
        var (x0c, x0g) = Pair(Values(k * m, 31, -1f, 1f), k, m);
        var (bc, bg) = Pair(Values(n, 32), n);
        var (rc, rg) = Pair(Values(m * n, 33), m, n);
        using (wc) using (wg) using (sc) using (sg) using (x0c) using (x0g) using (bc) using (bg) using (rc) using (rg)
        {
            using var xc = x0c.T; using var xg = x0g.T;
            using (var yc = xc.Linear(wc, null, sc)) using (var yg = xg.Linear(wg, null, sg))
                AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
            using (var yc = xc.Linear(wc, new MatMulEpilogue(bc, Activation.Silu, rc), sc))
            using (var yg = xg.Linear(wg, new MatMulEpilogue(bg, Activation.Silu, rg), sg))
                AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableTheory]
    [InlineData(DType.Q4_0)] [InlineData(DType.Q4_K)] [InlineData(DType.I8)]
    public void QuantizedMatMul_with_bf16_activations_matches_cpu(DType type)
    {
        var g = Gpu;
        var (wc, wg, sc, sg) = QuantWeight(type, 40, 512, 7);
        var (x0c, x0g) = Pair(Values(2 * 9 * 512, 34, -1f, 1f), 2, 9, 512);
        using (wc) using (wg) using (sc) using (sg) using (x0c) using (x0g)
        {
            using var xc = x0c.To(DType.BF16); using var xg = x0g.To(DType.BF16);
            using var yc = xc.Linear(wc, null, sc); using var yg = xg.Linear(wg, null, sg);
            Assert.Equal(DType.BF16, yg.DType);
            Assert.Equal(new Shape(2, 9, 40), yg.Shape);
            AssertClose(yc.ToFloatArray(), yg.ToFloatArray(), 3e-5);
        }
    }

    [SkippableFact]
    public void QuantizedMatMul_refuses_k_that_is_not_whole_blocks()
    {
        var g = Gpu;
        using var u = Tensor.Zeros(g, DType.U8, new Shape((int)DType.Q4_0.ByteCount(64 * 48)));
        using var w = Tensor.FromStorage(u.Storage, DType.Q4_0, new Shape(64, 48));
        using var x = Tensor.Zeros(g, DType.F32, new Shape(3, 48));
        var e = Assert.Throws<TesseraException>(() => x.Linear(w).Dispose());
        Assert.Contains("[64, 48]", e.Message);
        Assert.Contains("32", e.Message);
    }

    [SkippableFact]
    public void Q4_0_gemv_throughput_is_reported()
    {
        var g = Gpu;
        const int k = 4096, n = 4096;
        var (wc, wg, _, _) = QuantWeight(DType.Q4_0, n, k, 9);
        using (wc) using (wg)
        using (var x = Tensor.FromArray(g, Values(k, 35), 1, k))
        {
            using (x.Linear(wg)) { } // load the modules
            double ms = g.TimeMilliseconds(() => { for (int i = 0; i < 20; i++) using (x.Linear(wg)) { } }) / 20;
            Console.WriteLine($"cuda q4_0 GEMV 1x{k}x{n}: {ms * 1000:F1} us, {DType.Q4_0.ByteCount((long)n * k) / ms / 1e6:F0} GB/s of weights on {g.Info}");
            Assert.True(ms > 0);
        }
    }
}
