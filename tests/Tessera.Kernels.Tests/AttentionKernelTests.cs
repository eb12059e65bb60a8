using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>AttentionKernels.Flash and PagedAttentionKernels.Paged on the CPU accelerator against the fp64
/// NaiveAttention.Run by FlashAttention's rule: the kernel's largest error is at most twice that of the naive f32
/// attention (NaiveAttention.RunF32), plus a tiny floor. Odd lengths, GQA and MQA, causal (bottom-right), sliding
/// and two-sided windows, an explicit query position, decode, masks with -inf, rows that see no key, a permuted
/// [B, S, H, D] q, all three tile configurations (D 32/64, 128, 256); paged equals contiguous for random layouts.</summary>
public sealed class AttentionKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    private const double Floor = 2e-6;

    private static Tensor4 Contig4(int dtype, int d0, int d1, int d2, int d3, long offset = 0) => new()
    {
        DType = dtype, Offset = offset, S0 = (long)d1 * d2 * d3, S1 = (long)d2 * d3, S2 = d3, S3 = 1,
    };

    private static NaiveAttention.Problem Problem(int b, int hq, int hkv, int sq, int skv, int d, AttentionOptions o, bool mask, int seed)
    {
        var q = Values(b * hq * sq * d, seed); var k = Values(b * hkv * skv * d, seed + 1); var v = Values(b * hkv * skv * d, seed + 2);
        float[]? m = null;
        if (mask)
        {
            var r = new Random(seed + 3);
            m = [.. Enumerable.Range(0, b * hq * sq * skv).Select(_ => r.NextDouble() < 0.2 ? float.NegativeInfinity : (float)(r.NextDouble() * 2 - 1))];
        }
        return new NaiveAttention.Problem(b, hq, hkv, sq, skv, d, q, k, v, m, o);
    }

    private static AttnArgs Args(NaiveAttention.Problem p, bool lse) => new()
    {
        B = p.B, Hq = p.Hq, Hkv = p.Hkv, Sq = p.Sq, Skv = p.Skv, D = p.D,
        HasQueryPos = p.Options.QueryPosition is null ? 0 : 1, QueryPos = p.Options.QueryPosition ?? 0,
        Causal = p.Options.Causal ? 1 : 0, WindowLeft = p.Options.WindowLeft, WindowRight = p.Options.WindowRight,
        Scale = p.Options.ScaleFor(p.D), HasMask = p.Mask is null ? 0 : 1, HasLse = lse ? 1 : 0,
    };

    /// <summary>Runs the flash kernel with contiguous k, v, mask; q contiguous or stored [B, S, H, D] and permuted.</summary>
    private (float[] Out, float[] Lse) RunFlash(NaiveAttention.Problem p, bool permutedQ = false, int grid = 3)
    {
        var qData = p.Q;
        var qlay = Contig4(ElementCodes.F32, p.B, p.Hq, p.Sq, p.D);
        if (permutedQ)
        {
            qData = new float[p.Q.Length];
            for (int b = 0; b < p.B; b++) for (int h = 0; h < p.Hq; h++) for (int i = 0; i < p.Sq; i++) for (int c = 0; c < p.D; c++)
                qData[(((long)b * p.Sq + i) * p.Hq + h) * p.D + c] = p.Q[(((long)b * p.Hq + h) * p.Sq + i) * p.D + c];
            qlay = new Tensor4 { DType = ElementCodes.F32, S0 = (long)p.Sq * p.Hq * p.D, S1 = p.D, S2 = (long)p.Hq * p.D, S3 = 1 };
        }
        int rows = p.B * p.Hq * p.Sq;
        using var bq = _h.Bytes(qData); using var bk = _h.Bytes(p.K); using var bv = _h.Bytes(p.V);
        using var bm = _h.Bytes(p.Mask ?? [0f]);
        using var bo = _h.Zeros<byte>(rows * p.D * 4); using var bl = _h.Zeros<byte>(rows * 4);
        var kv = Contig4(ElementCodes.F32, p.B, p.Hkv, p.Skv, p.D);
        _h.Launch(typeof(AttentionKernels), nameof(AttentionKernels.Flash), grid: grid, group: FlashCore.Threads,
            bq.View, qlay, bk.View, kv, bv.View, kv, bm.View, Contig4(ElementCodes.F32, p.B, p.Hq, p.Sq, p.Skv),
            bo.View, Contig4(ElementCodes.F32, p.B, p.Hq, p.Sq, p.D), bl.View, Contig4(ElementCodes.F32, 1, p.B, p.Hq, p.Sq), Args(p, lse: true));
        return (_h.F32(bo, rows * p.D), _h.F32(bl, rows));
    }

    private static void AssertFlashRule(NaiveAttention.Problem p, float[] got)
    {
        var (want, _) = NaiveAttention.Run(p);
        double naive = NaiveAttention.MaxError(NaiveAttention.RunF32(p), want), err = NaiveAttention.MaxError(got, want);
        Assert.True(err <= 2 * naive + Floor, $"max error {err:E2}, naive f32 attention {naive:E2}");
    }

    private static void AssertLse(NaiveAttention.Problem p, float[] lse)
    {
        var (_, want) = NaiveAttention.Run(p);
        for (int i = 0; i < want.Length; i++)
        {
            if (double.IsNegativeInfinity(want[i])) Assert.True(float.IsNegativeInfinity(lse[i]), $"row {i}: lse {lse[i]}, want -inf");
            else Assert.True(Math.Abs(lse[i] - want[i]) <= 1e-5 * Math.Max(1, Math.Abs(want[i])), $"row {i}: lse {lse[i]}, want {want[i]}");
        }
    }

    public static IEnumerable<object[]> Cases() =>
    [
        // b, hq, hkv, sq, skv, d, causal, windowLeft, windowRight, queryPosition (-1: default), mask
        [1, 2, 2, 17, 23, 32, false, -1, -1, -1, false],  // plain, odd lengths
        [2, 4, 2, 13, 13, 64, true, -1, -1, -1, false],   // causal self-attention, GQA 2
        [1, 4, 1, 1, 37, 64, true, -1, -1, -1, false],    // decode, MQA: four heads share one tile
        [1, 8, 2, 1, 40, 32, false, -1, -1, -1, false],   // decode, GQA 4
        [1, 2, 2, 40, 40, 32, true, 7, -1, -1, false],    // sliding window (keys 7 back), 2 key tiles skipped per row tile
        [1, 2, 1, 9, 31, 64, false, -1, -1, -1, true],    // additive mask with -inf entries
        [1, 3, 3, 11, 29, 32, false, 4, 3, 5, false],     // two-sided window around an explicit query position
        [1, 2, 2, 20, 9, 32, true, -1, -1, -1, true],     // Sq > Skv causal: the first rows see no key (zeros, lse -inf)
        [1, 2, 1, 33, 35, 40, true, -1, -1, -1, false],   // odd head dim; 66 rows: two row tiles, the second spans heads
        [1, 2, 2, 5, 21, 128, true, -1, -1, -1, true],    // the D <= 128 configuration
        [1, 2, 1, 3, 19, 256, false, 6, -1, -1, false],   // the D <= 256 configuration
        [1, 1, 1, 4, 33, 200, false, -1, -1, -1, false],  // D 200: 16 accumulators, lanes past D idle
        [2, 2, 2, 12, 12, 8, false, -1, -1, -1, false],   // diffusion self-attention at a tiny head (the CUDA audit's DiT, MMDiT)
        [1, 3, 3, 35, 35, 72, false, -1, -1, -1, false],  // DiT-XL/2's head of 72 (1152 / 16): two row tiles, lanes past D idle
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Flash_matches_the_fp64_reference(int b, int hq, int hkv, int sq, int skv, int d, bool causal, int wl, int wr, int qpos, bool mask)
    {
        var o = new AttentionOptions { Causal = causal, WindowLeft = wl, WindowRight = wr, QueryPosition = qpos < 0 ? null : qpos };
        var p = Problem(b, hq, hkv, sq, skv, d, o, mask, seed: b * 1000 + sq * 31 + skv + d);
        var (got, lse) = RunFlash(p);
        AssertFlashRule(p, got);
        AssertLse(p, lse);
    }

    [Fact]
    public void Flash_reads_a_permuted_q_and_a_custom_scale()
    {
        var p = Problem(2, 4, 2, 19, 27, 32, new AttentionOptions { Causal = true, Scale = 0.3f }, false, 77);
        var (got, _) = RunFlash(p, permutedQ: true, grid: 1);
        AssertFlashRule(p, got);
    }

    /// <summary>Sequences of different lengths in random block layouts of one pool; each sequence's first queryLens
    /// rows against the reference on its own K/V and against the contiguous kernel; rows past them untouched.</summary>
    [Theory]
    [InlineData(32, 4, 2, 16, false, -1)]
    [InlineData(64, 2, 2, 5, true, -1)]
    [InlineData(64, 4, 1, 8, true, 6)]
    [InlineData(128, 2, 1, 16, true, -1)]
    public void Paged_equals_contiguous_for_random_block_layouts(int d, int hq, int hkv, int blockSize, bool causal, int windowLeft)
    {
        var rnd = new Random(d + hq * 7 + blockSize);
        int[] lens = [1, 23, 40, 17], qlens = [1, 5, 7, 0];
        int n = lens.Length, sq = 7, maxBlocks = 40 / blockSize + 1, numBlocks = n * maxBlocks + 3;
        var o = new AttentionOptions { Causal = causal, WindowLeft = windowLeft };
        var kPool = Values(numBlocks * hkv * blockSize * d, 11); var vPool = Values(numBlocks * hkv * blockSize * d, 12);
        var q = Values(n * hq * sq * d, 13);
        // A random permutation of the pool's blocks, dealt out to the sequences; unused table slots hold -1.
        var perm = Enumerable.Range(0, numBlocks).OrderBy(_ => rnd.Next()).ToArray();
        var tables = Enumerable.Repeat(-1, n * maxBlocks).ToArray();
        int next = 0;
        for (int s = 0; s < n; s++) for (int t = 0; t < (lens[s] + blockSize - 1) / blockSize; t++) tables[s * maxBlocks + t] = perm[next++];

        const float sentinel = 7.5f;
        var init = Enumerable.Repeat(sentinel, n * hq * sq * d).ToArray();
        using var bq = _h.Bytes(q); using var bk = _h.Bytes(kPool); using var bv = _h.Bytes(vPool); using var bo = _h.Bytes(init);
        using var bt = _h.Upload(tables); using var bs = _h.Upload(lens); using var bql = _h.Upload(qlens);
        var pool = Contig4(ElementCodes.F32, numBlocks, hkv, blockSize, d);
        var a = new AttnArgs
        {
            B = n, Hq = hq, Hkv = hkv, Sq = sq, Skv = 0, D = d, Causal = causal ? 1 : 0, WindowLeft = windowLeft, WindowRight = -1,
            Scale = o.ScaleFor(d), HasQueryLens = 1, MaxBlocks = maxBlocks, BlockSize = blockSize, NumBlocks = numBlocks,
        };
        _h.Launch(typeof(PagedAttentionKernels), nameof(PagedAttentionKernels.Paged), grid: 5, group: FlashCore.Threads,
            bq.View, Contig4(ElementCodes.F32, n, hq, sq, d), bk.View, pool, bv.View, pool, bt.View, bs.View, bql.View,
            bo.View, Contig4(ElementCodes.F32, n, hq, sq, d), a);
        var got = _h.F32(bo, n * hq * sq * d);

        for (int s = 0; s < n; s++)
        {
            int len = lens[s], ql = qlens[s];
            // This sequence's K/V gathered through its table, and its first ql query rows.
            var ks = new float[hkv * len * d]; var vs = new float[hkv * len * d];
            for (int g = 0; g < hkv; g++) for (int t = 0; t < len; t++) for (int c = 0; c < d; c++)
            {
                long at = (((long)tables[s * maxBlocks + t / blockSize] * hkv + g) * blockSize + t % blockSize) * d + c;
                ks[(g * len + t) * d + c] = kPool[at]; vs[(g * len + t) * d + c] = vPool[at];
            }
            var qs = new float[hq * ql * d];
            for (int h = 0; h < hq; h++) for (int i = 0; i < ql; i++) for (int c = 0; c < d; c++)
                qs[(h * ql + i) * d + c] = q[(((long)s * hq + h) * sq + i) * d + c];
            var gotS = new float[hq * ql * d];
            for (int h = 0; h < hq; h++) for (int i = 0; i < sq; i++) for (int c = 0; c < d; c++)
            {
                float val = got[(((long)s * hq + h) * sq + i) * d + c];
                if (i < ql) gotS[(h * ql + i) * d + c] = val;
                else Assert.Equal(sentinel, val); // rows past the query length are left as they are
            }
            if (ql == 0) continue;
            var p = new NaiveAttention.Problem(1, hq, hkv, ql, len, d, qs, ks, vs, null, o);
            AssertFlashRule(p, gotS);
            var (contiguous, _) = RunFlash(p, grid: 2);
            // The same kernel over the same keys; only the key-tile boundaries may differ (row tiles group other rows).
            Assert.True(NaiveAttention.MaxError(gotS, [.. contiguous.Select(x => (double)x)]) <= 1e-5, $"sequence {s}: paged differs from contiguous");
        }
    }

    /// <summary>Split-K (flash-decoding): partial results of key chunks into workspaces, merged by Combine; with more
    /// chunks than key tiles some chunks are empty (zeros, lse -inf, weight 0).</summary>
    [Theory]
    [InlineData(1, 4, 1, 1, 40, 64, true, -1, 3)]
    [InlineData(2, 2, 2, 3, 37, 32, true, 9, 4)]
    [InlineData(1, 2, 1, 2, 23, 128, false, -1, 5)]
    [InlineData(1, 2, 2, 20, 9, 32, true, -1, 2)]   // rows that see no key in any chunk
    public void Split_k_flash_matches_the_fp64_reference(int b, int hq, int hkv, int sq, int skv, int d, bool causal, int wl, int splits)
    {
        var p = Problem(b, hq, hkv, sq, skv, d, new AttentionOptions { Causal = causal, WindowLeft = wl }, false, 5 + splits);
        int rows = b * hq * sq;
        using var bq = _h.Bytes(p.Q); using var bk = _h.Bytes(p.K); using var bv = _h.Bytes(p.V); using var none = _h.Zeros<byte>(4);
        using var part = _h.Zeros<byte>(splits * rows * d * 4); using var partLse = _h.Zeros<byte>(splits * rows * 4);
        using var bo = _h.Zeros<byte>(rows * d * 4); using var bl = _h.Zeros<byte>(rows * 4);
        var a = Args(p, lse: true);
        a.Splits = splits;
        var kv = Contig4(ElementCodes.F32, b, hkv, skv, d);
        _h.Launch(typeof(AttentionKernels), nameof(AttentionKernels.Flash), grid: 3, group: FlashCore.Threads,
            bq.View, Contig4(ElementCodes.F32, b, hq, sq, d), bk.View, kv, bv.View, kv, none.View, default(Tensor4),
            part.View, Contig4(ElementCodes.F32, b, hq, sq, d), partLse.View, Contig4(ElementCodes.F32, 1, b, hq, sq), a);
        using var dummy = _h.Zeros<int>(1);
        _h.Launch(typeof(AttentionKernels), nameof(AttentionKernels.Combine), grid: 2, group: 256,
            part.View.AsContiguous().Cast<float>(), partLse.View.AsContiguous().Cast<float>(), bo.View, Contig4(ElementCodes.F32, b, hq, sq, d),
            bl.View, Contig4(ElementCodes.F32, 1, b, hq, sq), dummy.View, dummy.View, 0, a);
        AssertFlashRule(p, _h.F32(bo, rows * d));
        AssertLse(p, _h.F32(bl, rows));
    }

    [Fact]
    public void Split_k_paged_matches_the_reference_and_leaves_rows_past_the_query_length()
    {
        const int d = 64, hq = 4, hkv = 2, bs = 4, sq = 3, splits = 3;
        int[] lens = [30, 9], qlens = [1, 2], tables = [5, 0, 7, 2, 9, 1, 3, 8, 4, 6, 10, -1, -1, -1, -1, -1];
        int n = 2, maxBlocks = 8, numBlocks = 11;
        var kPool = Values(numBlocks * hkv * bs * d, 21); var vPool = Values(numBlocks * hkv * bs * d, 22); var q = Values(n * hq * sq * d, 23);
        var o = new AttentionOptions { Causal = true };
        using var bq = _h.Bytes(q); using var bk = _h.Bytes(kPool); using var bv = _h.Bytes(vPool);
        using var bt = _h.Upload(tables); using var bsl = _h.Upload(lens); using var bql = _h.Upload(qlens);
        int rows = n * hq * sq;
        using var part = _h.Zeros<byte>(splits * rows * d * 4); using var partLse = _h.Zeros<byte>(splits * rows * 4);
        const float sentinel = -3.25f;
        using var bo = _h.Bytes(Enumerable.Repeat(sentinel, rows * d).ToArray());
        var pool = Contig4(ElementCodes.F32, numBlocks, hkv, bs, d);
        var a = new AttnArgs
        {
            B = n, Hq = hq, Hkv = hkv, Sq = sq, D = d, Causal = 1, WindowLeft = -1, WindowRight = -1, Scale = o.ScaleFor(d),
            HasQueryLens = 1, MaxBlocks = maxBlocks, BlockSize = bs, NumBlocks = numBlocks, Splits = splits,
        };
        _h.Launch(typeof(PagedAttentionKernels), nameof(PagedAttentionKernels.PagedSplit), grid: 4, group: FlashCore.Threads,
            bq.View, Contig4(ElementCodes.F32, n, hq, sq, d), bk.View, pool, bv.View, pool, bt.View, bsl.View, bql.View, part.View, partLse.View, a);
        _h.Launch(typeof(AttentionKernels), nameof(AttentionKernels.Combine), grid: 2, group: 256,
            part.View.AsContiguous().Cast<float>(), partLse.View.AsContiguous().Cast<float>(), bo.View, Contig4(ElementCodes.F32, n, hq, sq, d),
            bo.View, default(Tensor4), bsl.View, bql.View, 1, a);
        var got = _h.F32(bo, rows * d);
        for (int s = 0; s < n; s++)
        {
            int len = lens[s], ql = qlens[s];
            var ks = new float[hkv * len * d]; var vs = new float[hkv * len * d];
            for (int g = 0; g < hkv; g++) for (int t = 0; t < len; t++) for (int c = 0; c < d; c++)
            {
                long at = (((long)tables[s * maxBlocks + t / bs] * hkv + g) * bs + t % bs) * d + c;
                ks[(g * len + t) * d + c] = kPool[at]; vs[(g * len + t) * d + c] = vPool[at];
            }
            var qs = new float[hq * ql * d]; var gotS = new float[hq * ql * d];
            for (int h = 0; h < hq; h++) for (int i = 0; i < sq; i++) for (int c = 0; c < d; c++)
            {
                long at = (((long)s * hq + h) * sq + i) * d + c;
                if (i < ql) { qs[(h * ql + i) * d + c] = q[at]; gotS[(h * ql + i) * d + c] = got[at]; }
                else Assert.Equal(sentinel, got[at]);
            }
            AssertFlashRule(new NaiveAttention.Problem(1, hq, hkv, ql, len, d, qs, ks, vs, null, o), gotS);
        }
    }
}
