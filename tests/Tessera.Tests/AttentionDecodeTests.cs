using Tessera.Cpu;
using static Tessera.Tests.AttentionTestKit;

namespace Tessera.Tests;

/// <summary>Batch invariance of decode attention (what continuous batching relies on): a sequence's output is bit for
/// bit the same whether it is attended alone or beside others of other lengths, over a dense cache or through the
/// blocks of a paged pool, on 1 or 2 threads; and the last queries of a causal prompt attended alone (the decode path)
/// give the bits of the whole prompt attended at once (the tiled kernel), which prefix caching relies on. Values
/// against the fp64 reference are rows of the op table (OpTable.AttentionDecode.cs).</summary>
public class AttentionDecodeTests
{
    private const int Hq = 8, Hkv = 2, D = 80;

    [Theory]
    [InlineData(1, 16)]
    [InlineData(2, 5)]
    [InlineData(2, 16)]
    public void A_sequence_decodes_the_same_alone_beside_others_dense_or_paged(int sq, int blockSize)
    {
        int[] lens = [33, 161, 300, 7];
        var rng = new Random(11);
        var causal = new AttentionOptions { Causal = true };
        using var one = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var two = new CpuBackend(new CpuBackendOptions(Threads: 2));

        // The pool: sequence s owns blocks in a scrambled order; its tokens' K/V also kept as [1, Hkv, len, D] arrays.
        int maxBlocks = lens.Max() / blockSize + 1, numBlocks = lens.Length * maxBlocks;
        var kPool = Randn(rng, numBlocks * Hkv * blockSize * D, 1.5);
        var vPool = Randn(rng, numBlocks * Hkv * blockSize * D);
        var order = Enumerable.Range(0, numBlocks).OrderBy(i => (i * 37) % 101).ToArray();
        var tables = new int[lens.Length * maxBlocks];
        for (int i = 0; i < tables.Length; i++) tables[i] = order[i];
        float[] Dense(float[] pool, int s)
        {
            var a = new float[Hkv * lens[s] * D];
            for (int h = 0; h < Hkv; h++)
                for (int j = 0; j < lens[s]; j++)
                    Array.Copy(pool, ((tables[s * maxBlocks + j / blockSize] * Hkv + h) * blockSize + j % blockSize) * D, a, (h * lens[s] + j) * D, D);
            return a;
        }
        var q = Randn(rng, lens.Length * Hq * sq * D, 1.5);

        float[] Paged(IBackend be, int[] seqs)
        {
            var t = seqs.SelectMany(s => tables.AsSpan(s * maxBlocks, maxBlocks).ToArray()).ToArray();
            var qs = seqs.SelectMany(s => q.AsSpan(s * Hq * sq * D, Hq * sq * D).ToArray()).ToArray();
            using var qt = Tensor.FromArray(be, qs, seqs.Length, Hq, sq, D);
            using var kt = Tensor.FromArray(be, kPool, numBlocks, Hkv, blockSize, D);
            using var vt = Tensor.FromArray(be, vPool, numBlocks, Hkv, blockSize, D);
            using var tt = Tensor.FromArray(be, t, seqs.Length, maxBlocks);
            using var lt = Tensor.FromArray(be, seqs.Select(s => lens[s]).ToArray(), seqs.Length);
            using var o = qt.PagedAttention(kt, vt, tt, lt, causal);
            return o.ToArray<float>();
        }

        var all = Paged(one, [0, 1, 2, 3]);
        int rowFloats = Hq * sq * D;
        for (int s = 0; s < lens.Length; s++)
        {
            var want = all.AsSpan(s * rowFloats, rowFloats).ToArray();
            AssertSame(want, Paged(two, [s]), $"sequence {s} (length {lens[s]}) paged alone on 2 threads");
            AssertSame(want, Paged(one, [3 - s, s])[rowFloats..], $"sequence {s} (length {lens[s]}) paged second of two");
            using var qt = Tensor.FromArray(two, q.AsSpan(s * rowFloats, rowFloats).ToArray(), 1, Hq, sq, D);
            using var kt = Tensor.FromArray(two, Dense(kPool, s), 1, Hkv, lens[s], D);
            using var vt = Tensor.FromArray(two, Dense(vPool, s), 1, Hkv, lens[s], D);
            using var o = qt.Attention(kt, vt, causal);
            AssertSame(want, o.ToArray<float>(), $"sequence {s} (length {lens[s]}) over a dense cache");
        }
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(3, 80)]
    [InlineData(8, 40)]
    public void The_last_queries_alone_give_the_bits_of_the_whole_prompt_at_once(int last, int d)
    {
        // A prompt continued from a cached prefix (few query rows: K and V read in place) must give the logits of the
        // whole prompt computed at once (161 x 2 rows a unit: the tiled kernel), bit for bit.
        const int hq = 4, hkv = 2, s = 161;
        var rng = new Random(5);
        var causal = new AttentionOptions { Causal = true };
        var q = Randn(rng, hq * s * d, 1.5);
        using var be = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var qt = Tensor.FromArray(be, q, 1, hq, s, d);
        using var kt = Tensor.FromArray(be, Randn(rng, hkv * s * d, 1.5), 1, hkv, s, d);
        using var vt = Tensor.FromArray(be, Randn(rng, hkv * s * d), 1, hkv, s, d);
        using var whole = qt.Attention(kt, vt, causal);
        using var wholeLast = whole.Narrow(2, s - last, last);
        using var qLast = qt.Narrow(2, s - last, last);
        using var tail = qLast.Attention(kt, vt, causal);
        using var want = wholeLast.Contiguous();
        AssertSame(want.ToArray<float>(), tail.ToArray<float>(), $"the last {last} queries of {s}, head dim {d}", d);
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(2, 80)]
    [InlineData(161, 40)]
    public void An_f16_cache_read_in_place_gives_the_bits_of_its_f32_copy_dense_and_paged(int sq, int d)
    {
        // f16 -> f32 is exact, so attention over f16 K/V (rows widened as the kernels read them) must equal attention
        // over the f32 copy bit for bit: the decode path (sq 1, 2 x GQA 4), the tiled kernel (sq 161), and through blocks.
        const int hq = 8, hkv = 2, skv = 161, blockSize = 16;
        var rng = new Random(3);
        var causal = new AttentionOptions { Causal = true };
        using var be = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var qt = Tensor.FromArray(be, Randn(rng, hq * sq * d, 1.5), 1, hq, sq, d);
        using var k32 = Tensor.FromArray(be, Randn(rng, hkv * skv * d, 1.5), 1, hkv, skv, d);
        using var v32 = Tensor.FromArray(be, Randn(rng, hkv * skv * d), 1, hkv, skv, d);
        using var k16 = k32.To(DType.F16);
        using var v16 = v32.To(DType.F16);
        using var kWide = k16.To(DType.F32);
        using var vWide = v16.To(DType.F32);
        using var want = qt.Attention(kWide, vWide, causal);
        using var got = qt.Attention(k16, v16, causal);
        AssertSame(want.ToArray<float>(), got.ToArray<float>(), $"dense f16 cache, {sq} queries, head dim {d}", d);
        // A strided view (the filled part of a longer cache) reads through its strides.
        using var longer = Tensor.Zeros(be, DType.F16, new Shape(1, hkv, skv + 7, d));
        using (var part = longer.Narrow(2, 0, skv)) k16.CopyInto(part);
        using var kView = longer.Narrow(2, 0, skv);
        using var viaView = qt.Attention(kView, v16, causal);
        AssertSame(want.ToArray<float>(), viaView.ToArray<float>(), $"f16 keys through a narrowed view, {sq} queries", d);

        // The same keys in pool blocks, scrambled.
        int blocks = (skv + blockSize - 1) / blockSize;
        var order = Enumerable.Range(0, blocks).OrderBy(i => (i * 5) % 7).ToArray();
        var kPool = new float[blocks * hkv * blockSize * d];
        var vPool = new float[kPool.Length];
        var kHost = kWide.ToArray<float>();
        var vHost = vWide.ToArray<float>();
        for (int h = 0; h < hkv; h++)
            for (int j = 0; j < skv; j++)
            {
                int at = ((order[j / blockSize] * hkv + h) * blockSize + j % blockSize) * d;
                Array.Copy(kHost, (h * skv + j) * d, kPool, at, d);
                Array.Copy(vHost, (h * skv + j) * d, vPool, at, d);
            }
        using var kp32 = Tensor.FromArray(be, kPool, blocks, hkv, blockSize, d);
        using var vp32 = Tensor.FromArray(be, vPool, blocks, hkv, blockSize, d);
        using var kp16 = kp32.To(DType.F16);
        using var vp16 = vp32.To(DType.F16);
        using var tables = Tensor.FromArray(be, order, 1, blocks);
        using var lens = Tensor.FromArray(be, new[] { skv }, 1);
        using var pagedWant = qt.PagedAttention(kp32, vp32, tables, lens, causal);
        using var pagedGot = qt.PagedAttention(kp16, vp16, tables, lens, causal);
        AssertSame(pagedWant.ToArray<float>(), pagedGot.ToArray<float>(), $"paged f16 pool, {sq} queries, head dim {d}", d);
        AssertSame(want.ToArray<float>(), pagedGot.ToArray<float>(), $"paged f16 pool against the dense f16 cache, {sq} queries", d);
    }

    private static void AssertSame(float[] want, float[] got, string what, int d = D)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            if (BitConverter.SingleToInt32Bits(want[i]) != BitConverter.SingleToInt32Bits(got[i]))
                Assert.Fail($"{what}: element {i} (row {i / d}) is {got[i]:R}, {want[i]:R} in the reference call");
    }
}
