using Tessera.Attention;
using Xunit;
using static Tessera.Tests.AttentionTestKit;

namespace Tessera.Tests;

/// <summary>The paged KV cache (allocator, block tables, fork, copy on write, free, out-of-blocks) and paged attention,
/// checked against contiguous attention over the same tokens kept in plain arrays beside the cache.</summary>
public class AttentionPagedTests
{
    public static TheoryData<string> Backends() => new(TestBackends.Names);

    private const int Hkv = 2, Hq = 4, D = 64, Bs = 16;

    /// <summary>A sequence in the cache and the K/V of its tokens per layer, [token][Hkv * D].</summary>
    private sealed class Tracked(SequenceKv seq, int layers)
    {
        public SequenceKv Seq { get; } = seq;
        public List<float[]>[] K { get; } = Enumerable.Range(0, layers).Select(_ => new List<float[]>()).ToArray();
        public List<float[]>[] V { get; } = Enumerable.Range(0, layers).Select(_ => new List<float[]>()).ToArray();

        public Tracked Fork()
        {
            var f = new Tracked(Seq.Fork(), K.Length);
            for (int l = 0; l < K.Length; l++) { f.K[l].AddRange(K[l]); f.V[l].AddRange(V[l]); }
            return f;
        }

        public void Append(IBackend be, Random r, int tokens)
        {
            int start = Seq.Extend(tokens);
            for (int l = 0; l < K.Length; l++)
            {
                var k = Randn(r, Hkv * tokens * D);
                var v = Randn(r, Hkv * tokens * D);
                using var kt = Tensor.FromArray(be, k, Hkv, tokens, D);
                using var vt = Tensor.FromArray(be, v, Hkv, tokens, D);
                Seq.Write(l, start, kt, vt);
                for (int t = 0; t < tokens; t++)
                {
                    K[l].Add(Token(k, tokens, t));
                    V[l].Add(Token(v, tokens, t));
                }
            }
        }

        private static float[] Token(float[] x, int tokens, int t)
        {
            var o = new float[Hkv * D];
            for (int h = 0; h < Hkv; h++) Array.Copy(x, (h * tokens + t) * D, o, h * D, D);
            return o;
        }

        /// <summary>[1, Hkv, len, D] of one layer.</summary>
        public Tensor Dense(IBackend be, List<float[]> rows)
        {
            var a = new float[Hkv * rows.Count * D];
            for (int t = 0; t < rows.Count; t++) for (int h = 0; h < Hkv; h++) Array.Copy(rows[t], h * D, a, (h * rows.Count + t) * D, D);
            return Tensor.FromArray(be, a, 1, Hkv, rows.Count, D);
        }
    }

    private static KvBlockPool ScrambledPool(IBackend be, int layers, int blocks, int seed)
    {
        var pool = new KvBlockPool(be, layers, blocks, Hkv, Bs, D);
        // Take every block and give them back in random order, so that tables are not 0, 1, 2, ...
        var ids = pool.Allocator.Allocate(blocks);
        new Random(seed).Shuffle(ids);
        foreach (int id in ids) pool.Allocator.Release(id);
        return pool;
    }

    /// <summary>Paged attention over the batch equals contiguous attention of each sequence (same kernel, so exactly),
    /// and the fp64 reference by FlashAttention's rule.</summary>
    private static void CheckBatch(IBackend be, KvBlockPool pool, int layer, Tracked[] seqs, int sq, int[] qlens, Random r, AttentionOptions o)
    {
        var qa = Randn(r, seqs.Length * Hq * sq * D);
        using var q = Tensor.FromArray(be, qa, seqs.Length, Hq, sq, D);
        var (tables, lens) = pool.BatchTables(seqs.Select(s => s.Seq).ToArray());
        using (tables) using (lens)
        using (var ql = Tensor.FromArray(be, qlens, qlens.Length))
        using (var paged = q.PagedAttention(pool.Keys(layer), pool.Values(layer), tables, lens, o, ql))
        {
            var got = paged.ToFloatArray();
            for (int i = 0; i < seqs.Length; i++)
            {
                using var qi = q.Narrow(0, i, 1);
                using var qn = qi.Narrow(2, 0, qlens[i]);
                using var k = seqs[i].Dense(be, seqs[i].K[layer]);
                using var v = seqs[i].Dense(be, seqs[i].V[layer]);
                using var want = qn.Attention(k, v, o);
                var w = want.ToFloatArray();
                for (int h = 0; h < Hq; h++)
                    for (int s = 0; s < sq; s++)
                        for (int c = 0; c < D; c++)
                        {
                            float g = got[((i * Hq + h) * sq + s) * D + c];
                            if (s >= qlens[i]) Assert.Equal(0f, g);
                            else Assert.Equal(w[(h * qlens[i] + s) * D + c], g);
                        }
                var p = new Reference.NaiveAttention.Problem(1, Hq, Hkv, qlens[i], seqs[i].Seq.Length, D, qn.Contiguous().ToFloatArray(),
                    k.ToFloatArray(), v.ToFloatArray(), null, o);
                AssertClose(p, w, $"sequence {i}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ForksCopyOnWriteAndFrees(string backend)
    {
        var be = TestBackends.Get(backend);
        var r = new Random(5);
        using var pool = ScrambledPool(be, 2, 64, 1);
        var a = new Tracked(pool.CreateSequence(), 2);
        a.Append(be, r, 37);                           // 3 blocks, the last holding 5 tokens
        var b = a.Fork();                              // shares all 3
        Assert.All(a.Seq.Blocks, blk => Assert.Equal(2, pool.Allocator.RefCount(blk)));
        int sharedLast = a.Seq.Blocks[2];
        b.Append(be, r, 5);                            // copy on write of the partly filled last block
        Assert.NotEqual(sharedLast, b.Seq.Blocks[2]);
        Assert.Equal(1, pool.Allocator.RefCount(sharedLast));
        Assert.Equal(a.Seq.Blocks[0], b.Seq.Blocks[0]);
        a.Append(be, r, 20);                           // a now owns its last block again: written in place
        Assert.Equal(sharedLast, a.Seq.Blocks[2]);
        var c = b.Fork();
        b.Seq.Dispose();                               // c keeps b's blocks alive
        var d = new Tracked(pool.CreateSequence(), 2);
        d.Append(be, r, 1);
        var e = a.Fork();
        int free = pool.Allocator.FreeCount;
        var all = new[] { a, c, d, e };
        int blocksHeld = all.SelectMany(t => t.Seq.Blocks).Distinct().Count();
        Assert.Equal(64 - blocksHeld, free);
        foreach (int layer in new[] { 0, 1 })
        {
            CheckBatch(be, pool, layer, all, 1, [1, 1, 1, 1], r, new() { Causal = true });                     // decode
            CheckBatch(be, pool, layer, all, 7, [7, 3, 1, 6], r, new() { Causal = true });                     // chunked prefill
            CheckBatch(be, pool, layer, all, 2, [2, 2, 1, 2], r, new() { Causal = true, WindowLeft = 20 });   // sliding window
        }
        foreach (var t in all) t.Seq.Dispose();
        Assert.Equal(64, pool.Allocator.FreeCount);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void OutOfBlocksChangesNothing(string backend)
    {
        var be = TestBackends.Get(backend);
        var r = new Random(6);
        using var pool = ScrambledPool(be, 1, 5, 2);
        var a = new Tracked(pool.CreateSequence(), 1);
        a.Append(be, r, 40);                           // 3 blocks, last one half full
        var b = a.Fork();
        int free = pool.Allocator.FreeCount;           // 2
        var blocks = b.Seq.Blocks.ToArray();
        var refs = Enumerable.Range(0, 5).Select(pool.Allocator.RefCount).ToArray();
        // 40 + 30 tokens: copy of the shared last block + 2 new blocks = 3 > 2 free.
        var ex = Assert.Throws<KvCacheFullException>(() => b.Seq.Extend(30));
        Assert.Equal(3, ex.Needed);
        Assert.IsAssignableFrom<TesseraException>(ex);
        Assert.Equal(40, b.Seq.Length);
        Assert.Equal(blocks, b.Seq.Blocks.ToArray());
        Assert.Equal(free, pool.Allocator.FreeCount);
        Assert.Equal(refs, Enumerable.Range(0, 5).Select(pool.Allocator.RefCount).ToArray());
        CheckBatch(be, pool, 0, [a, b], 1, [1, 1], r, new() { Causal = true });
        // Recover: free the sibling, then the same request fits (the last block is no longer shared).
        a.Seq.Dispose();
        b.Append(be, r, 30);
        CheckBatch(be, pool, 0, [b], 3, [3], r, new() { Causal = true });
        Assert.Throws<KvCacheFullException>(() => b.Seq.Extend(1000));
        Assert.Equal(70, b.Seq.Length);
    }

    [Fact]
    public void BadTablesAreRejectedWithNames()
    {
        var be = TestBackends.Get(TestBackends.Names.First());
        using var pool = new KvBlockPool(be, 1, 4, Hkv, Bs, D);
        using var q = Tensor.Zeros(be, DType.F32, new Shape(1, Hq, 1, D));
        using var tables = Tensor.FromArray(be, new[] { 0, 9 }, 1, 2);
        using var lens = Tensor.FromArray(be, new[] { 20 }, 1);
        var e = Assert.Throws<TesseraException>(() => q.PagedAttention(pool.Keys(0), pool.Values(0), tables, lens).Dispose());
        Assert.Contains("blockTables[0, 1] = 9", e.Message);
        using var f32Tables = Tensor.Zeros(be, DType.F32, new Shape(1, 2));
        Assert.Contains("int32", Assert.Throws<TesseraException>(() => q.PagedAttention(pool.Keys(0), pool.Values(0), f32Tables, lens)).Message);
    }
}
