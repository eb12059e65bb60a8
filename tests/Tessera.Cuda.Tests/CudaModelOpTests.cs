namespace Tessera.Cuda.Tests;

/// <summary>The ops the model layer added (issue 11) through CudaBackend against the CPU backend, where a driver and
/// a device exist; elsewhere each test is reported as skipped with the reason. Shapes are odd, operands strided or
/// broadcast, rows long enough to take the kernels' other paths (TopK past 2048: k-pass selection for k &lt;= 16, the
/// global bitonic network above).</summary>
public sealed class CudaModelOpTests : CudaOpTestBase
{
    private (Tensor Cpu, Tensor Gpu) Pair<T>(T[] data, params int[] shape) where T : unmanaged =>
        (Tensor.FromArray(_cpu, data, shape), Tensor.FromArray(Gpu, data, shape));

    [SkippableTheory]
    [InlineData(UnaryOp.Sin)] [InlineData(UnaryOp.Cos)]
    public void Sin_and_cos_of_large_angles_match_cpu(UnaryOp op)
    {
        // RoPE tables and timestep embeddings take thousands of radians; PTX sin.approx is only accurate near
        // [-pi, pi], which the kernel's reduction in double keeps it to.
        var x = Values(3 * 1001, (int)op, -10000f, 10000f);
        var (xc, xg) = Pair(x, 3, 1001);
        using (xc) using (xg)
        {
            using var yc = xc.Map(op); using var yg = xg.Map(op);
            var g = yg.ToArray<float>();
            AssertClose(yc.ToArray<float>(), g);
            for (int i = 0; i < x.Length; i++) // and within 2e-6 of the double result everywhere
            {
                double want = op == UnaryOp.Sin ? Math.Sin(x[i]) : Math.Cos(x[i]);
                Assert.True(Math.Abs(want - g[i]) < 2e-6, $"{op}({x[i]}) = {g[i]}, want {want}");
            }
        }
    }

    [SkippableTheory]
    [InlineData(CompareOp.Equal)] [InlineData(CompareOp.NotEqual)] [InlineData(CompareOp.Less)]
    [InlineData(CompareOp.LessOrEqual)] [InlineData(CompareOp.Greater)] [InlineData(CompareOp.GreaterOrEqual)]
    public void Compare_broadcast_transposed_and_integer_operands_match_cpu(CompareOp op)
    {
        var av = Values(33 * 17, 1); var bv = Values(33, 2);
        for (int i = 0; i < 33; i++) av[i * 17 + 3] = bv[i]; // equal pairs
        av[5] = float.NaN; bv[7] = float.NaN;
        var (ac, ag) = Pair(av, 33, 17); var (bc, bg) = Pair(bv, 33);
        long big = (1L << 53) + 1;
        long[] iv = [big, big + 1, -7, 0, long.MinValue, 9, 9];
        long[] jv = [big + 1, big, -7, 1, long.MaxValue, 9, -9];
        var (ic, ig) = Pair(iv, 7); var (jc, jg) = Pair(jv, 7);
        using (ac) using (ag) using (bc) using (bg) using (ic) using (ig) using (jc) using (jg)
        {
            using var atc = ac.T; using var atg = ag.T; // [17, 33] strided, b [33] broadcast over rows
            using var rc = atc.Compare(op, bc); using var rg = atg.Compare(op, bg);
            Assert.Equal(DType.U8, rg.DType);
            Assert.Equal(rc.ToArray<byte>(), rg.ToArray<byte>());
            using var hc = atc.To(DType.BF16); using var hg = hc.ToBackend(Gpu); // contiguous bf16 on the GPU
            using var bhc = bc.To(DType.BF16); using var bhg = bhc.ToBackend(Gpu);
            using var r2c = hc.Compare(op, bhc); using var r2g = hg.Compare(op, bhg);
            Assert.Equal(r2c.ToArray<byte>(), r2g.ToArray<byte>());
            using var r3c = ic.Compare(op, jc); using var r3g = ig.Compare(op, jg);
            Assert.Equal(r3c.ToArray<byte>(), r3g.ToArray<byte>());
        }
    }

    [SkippableTheory]
    [InlineData(DType.F32)] [InlineData(DType.BF16)] [InlineData(DType.I64)] [InlineData(DType.U8)]
    public void Where_with_broadcast_operands_matches_cpu(DType dt)
    {
        var (xc0, xg0) = Pair(Values(5 * 65, 3, 0f, 100f), 5, 65);
        var (yc0, yg0) = Pair(Values(65, 4, 0f, 100f), 65);
        var (kc, kg) = Pair(Values(5, 5), 5, 1); // condition: a column, broadcast along rows
        using (xc0) using (xg0) using (yc0) using (yg0) using (kc) using (kg)
        {
            using var zc = Tensor.Zeros(_cpu, DType.F32, new Shape(1)); using var zg = Tensor.Zeros(Gpu, DType.F32, new Shape(1));
            using var cc = kc.Gt(zc); using var cg = kg.Gt(zg);
            // Converted once on the CPU, so both backends select between the same values.
            using var xc = xc0.To(dt); using var xg = xc.ToBackend(Gpu); using var yc = yc0.To(dt); using var yg = yc.ToBackend(Gpu);
            using var rc = Tensor.Where(cc, xc, yc); using var rg = Tensor.Where(cg, xg, yg);
            Assert.Equal(rc.Shape, rg.Shape);
            Assert.Equal(rc.ToFloatArray(), rg.ToFloatArray());
        }
    }

    [SkippableTheory]
    [InlineData(0, DType.I32)] [InlineData(1, DType.I64)] [InlineData(2, DType.I32)] [InlineData(3, DType.I64)]
    public void IndexSelect_along_any_axis_of_a_permuted_tensor_matches_cpu(int axis, DType idType)
    {
        var (xc0, xg0) = Pair(Values(3 * 7 * 5 * 9, 6), 3, 7, 5, 9);
        using (xc0) using (xg0)
        {
            using var xc = xc0.Permute(2, 0, 3, 1); using var xg = xg0.Permute(2, 0, 3, 1); // [5, 3, 9, 7], strided
            int size = xc.Shape[axis];
            long[] idv = [.. Enumerable.Range(0, 11).Select(j => (long)((j * 5 + 2) % size))]; // repeats, any order
            using var ic = idType == DType.I64 ? Tensor.FromArray(_cpu, idv, 11) : Tensor.FromArray(_cpu, idv.Select(v => (int)v).ToArray(), 11);
            using var ig = idType == DType.I64 ? Tensor.FromArray(Gpu, idv, 11) : Tensor.FromArray(Gpu, idv.Select(v => (int)v).ToArray(), 11);
            using var rc = xc.IndexSelect(axis, ic); using var rg = xg.IndexSelect(axis, ig);
            Assert.Equal(rc.Shape, rg.Shape);
            Assert.Equal(rc.ToArray<float>(), rg.ToArray<float>());
            using var h0c = xc0.To(DType.F16); using var h0g = h0c.ToBackend(Gpu); // 2-byte elements, the same values
            using var hc = h0c.Permute(2, 0, 3, 1); using var hg = h0g.Permute(2, 0, 3, 1);
            using var r2c = hc.IndexSelect(axis, ic); using var r2g = hg.IndexSelect(axis, ig);
            Assert.Equal(r2c.ToFloatArray(), r2g.ToFloatArray());
        }
    }

    [SkippableTheory]
    [InlineData(1, 1, true)] [InlineData(33, 5, true)] [InlineData(65, 65, false)] [InlineData(2048, 50, true)]
    [InlineData(5003, 40, true)] [InlineData(5003, 7, false)] [InlineData(2049, 16, true)] [InlineData(1000, 1000, true)]
    public void TopK_with_ties_and_nan_matches_cpu(int n, int k, bool largest)
    {
        // Values from a few integers (many ties) plus fractions, a NaN and infinities in row 1.
        var r = new Random(n + k);
        var v = new float[3 * n];
        for (int i = 0; i < v.Length; i++) v[i] = r.Next(3) == 0 ? (float)Math.Round(r.NextDouble() * 8 - 4, 2) : r.Next(-3, 4);
        if (n > 3) { v[n + 2] = float.NaN; v[n] = float.PositiveInfinity; v[2 * n - 1] = float.NegativeInfinity; }
        var (xc0, xg0) = Pair(v, 3, n);
        using (xc0) using (xg0)
        {
            var (vc, ic) = xc0.TopK(k, largest); var (vg, ig) = xg0.TopK(k, largest);
            using (vc) using (ic) using (vg) using (ig)
            {
                Assert.Equal(ic.ToArray<int>(), ig.ToArray<int>());
                Assert.Equal(vc.ToArray<float>(), vg.ToArray<float>());
            }
            using var xc = xc0.To(DType.BF16); using var xg = xc.ToBackend(Gpu);
            using var tc = xc.Argsort(descending: largest); using var tg = xg.Argsort(descending: largest);
            Assert.Equal(tc.ToArray<int>(), tg.ToArray<int>());
            // Integer rows (i64 past 2^53 included) sort exactly.
            long[] iv = [.. v.Select((f, i) => float.IsFinite(f) ? (long)f * (1L << 40) + i % 3 : long.MaxValue - i)];
            using var ic0 = Tensor.FromArray(_cpu, iv, 3, n); using var ig0 = Tensor.FromArray(Gpu, iv, 3, n);
            var (ivc, iic) = ic0.TopK(k, largest); var (ivg, iig) = ig0.TopK(k, largest);
            using (ivc) using (iic) using (ivg) using (iig)
            {
                Assert.Equal(iic.ToArray<int>(), iig.ToArray<int>());
                Assert.Equal(ivc.ToArray<long>(), ivg.ToArray<long>());
            }
        }
    }

    [SkippableTheory]
    [InlineData(2, 6, 3, 5, 7)] [InlineData(1, 32, 8, 17, 33)] [InlineData(3, 4, 4, 1, 1)] [InlineData(2, 64, 32, 65, 65)]
    public void GroupNorm_of_a_channels_last_view_matches_cpu(int b, int c, int groups, int h, int w)
    {
        var (xc0, xg0) = Pair(Values(b * h * w * c, b + c, -1f, 5f), b, h, w, c);
        var (wc, wg) = Pair(Values(c, 7), c);
        var (bc, bg) = Pair(Values(c, 8), c);
        using (xc0) using (xg0) using (wc) using (wg) using (bc) using (bg)
        {
            using var xc = xc0.Permute(0, 3, 1, 2); using var xg = xg0.Permute(0, 3, 1, 2); // NCHW view of NHWC memory
            using var yc = xc.GroupNorm(groups, wc, bc); using var yg = xg.GroupNorm(groups, wg, bg);
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
            using var hc = xc.To(DType.BF16); using var hg = xg.To(DType.BF16);
            using var zc = hc.GroupNorm(groups, null, null, 1e-6f); using var zg = hg.GroupNorm(groups, null, null, 1e-6f);
            AssertClose(zc.ToFloatArray(), zg.ToFloatArray(), 1e-4);
        }
    }

    [SkippableTheory]
    [InlineData(1, 65, 33)] [InlineData(7, 65, 33)] [InlineData(3, 64, 130)]
    public void Gated_mlp_epilogue_matches_cpu_for_f32_and_bf16_weights(int m, int k, int n)
    {
        // silu(x Wg^T + bias) * (x Wu^T) + residual, the multiplier a broadcast row in the second pass.
        var (xc, xg) = Pair(Values(2 * m * k, 9, -1f, 1f), 2, m, k);
        var (gc, gg) = Pair(Values(n * k, 10, -0.3f, 0.3f), n, k);
        var (uc, ug) = Pair(Values(n * k, 11, -0.3f, 0.3f), n, k);
        var (bc, bg) = Pair(Values(n, 12), n);
        var (rc, rg) = Pair(Values(2 * m * n, 13), 2, m, n);
        var (rowc, rowg) = Pair(Values(n, 14), n);
        using (xc) using (xg) using (gc) using (gg) using (uc) using (ug) using (bc) using (bg) using (rc) using (rg) using (rowc) using (rowg)
            foreach (var dt in new[] { DType.F32, DType.BF16 })
            {
                using var wgc = gc.To(dt); using var wgg = gg.To(dt); using var wuc = uc.To(dt); using var wug = ug.To(dt);
                using var upc = xc.Linear(wuc); using var upg = xg.Linear(wug);
                using var yc = xc.Linear(wgc, new MatMulEpilogue(bc, Activation.Silu, rc, upc));
                using var yg = xg.Linear(wgg, new MatMulEpilogue(bg, Activation.Silu, rg, upg));
                AssertClose(yc.ToArray<float>(), yg.ToArray<float>(), dt == DType.F32 ? 1e-7 : 1e-5);
                using var zc = xc.Linear(wgc, new MatMulEpilogue(Activation: Activation.Silu, Multiplier: rowc));
                using var zg = xg.Linear(wgg, new MatMulEpilogue(Activation: Activation.Silu, Multiplier: rowg));
                AssertClose(zc.ToArray<float>(), zg.ToArray<float>(), dt == DType.F32 ? 1e-7 : 1e-5);
            }
    }

    [SkippableTheory]
    [InlineData(DType.Q4_0, 1)] [InlineData(DType.Q8_0, 2)] [InlineData(DType.Q4_0, 9)] [InlineData(DType.Q6_K, 67)]
    public void Gated_mlp_epilogue_on_quantized_weights_matches_cpu(DType type, int m)
    {
        // m < 4 takes the GEMV kernel, larger m the tiled GEMM; both apply the multiplier before the residual.
        int k = type == DType.Q6_K ? 256 : 96, n = 65;
        var wBytes = new byte[type.ByteCount((long)n * k)];
        var rng = new Random(m);
        rng.NextBytes(wBytes);
        for (long at = 0; at < wBytes.Length; at += type.BlockBytes())
            BitConverter.TryWriteBytes(wBytes.AsSpan((int)at + (type == DType.Q6_K ? 208 : 0)), (Half)(0.002f + 0.01f * (float)rng.NextDouble()));
        using var uc = Tensor.FromArray(_cpu, wBytes, wBytes.Length); using var ugu = Tensor.FromArray(Gpu, wBytes, wBytes.Length);
        using var wc = Tensor.FromStorage(uc.Storage, type, new Shape(n, k)); using var wg = Tensor.FromStorage(ugu.Storage, type, new Shape(n, k));
        var (xc, xg) = Pair(Values(m * k, 15, -1f, 1f), m, k);
        var (mc, mg) = Pair(Values(m * n, 16), m, n);
        var (rc, rg) = Pair(Values(m * n, 17), m, n);
        using (xc) using (xg) using (mc) using (mg) using (rc) using (rg)
        {
            using var yc = xc.Linear(wc, new MatMulEpilogue(null, Activation.Silu, rc, mc));
            using var yg = xg.Linear(wg, new MatMulEpilogue(null, Activation.Silu, rg, mg));
            AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
        }
    }

    [SkippableFact]
    public void Rope_at_per_sequence_positions_matches_cpu()
    {
        // x [B=2, H=3, S=5, D=24] as a permuted [B, S, H, D] view; each sequence at its own positions of a 4096 table.
        const int b = 2, h = 3, s = 5, d = 24, r = 16;
        var (cosT, sinT) = RopeTables.Build1D(4096, r);
        var (cc, cg) = Pair(cosT, 4096, r / 2); var (sc, sg) = Pair(sinT, 4096, r / 2);
        var (pc, pg) = Pair(new long[] { 0, 1, 2, 3, 4, 4000, 4001, 4002, 17, 4095 }, b, s);
        var (xc0, xg0) = Pair(Values(b * s * h * d, 18), b, s, h, d);
        using (cc) using (cg) using (sc) using (sg) using (pc) using (pg) using (xc0) using (xg0)
            foreach (var mode in new[] { RopeMode.RotateHalf, RopeMode.Interleaved })
            {
                using var xc = xc0.Permute(0, 2, 1, 3); using var xg = xg0.Permute(0, 2, 1, 3);
                using var yc = xc.Rope(cc, sc, mode, pc); using var yg = xg.Rope(cg, sg, mode, pg);
                AssertClose(yc.ToArray<float>(), yg.ToArray<float>());
            }
    }
}
