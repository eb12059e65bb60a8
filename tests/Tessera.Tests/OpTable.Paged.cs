using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for paged attention: a batch of sequences of different lengths whose K/V live in scrambled blocks of a pool.
// The reference gathers each sequence's keys through its block table and runs NaiveAttention on it (queries are the
// sequence's last tokens, so causal alignment is bottom-right per sequence); rows past a query length are zeros.
public static partial class OpTable
{
    /// <summary>A row for sequences of key lengths <paramref name="lens"/> and optional query lengths (each at most
    /// <paramref name="sq"/>), in a pool of blocks of <paramref name="bs"/> tokens handed out in a scrambled order.</summary>
    private static OpRow Paged(int hq, int hkv, int sq, int d, int bs, int[] lens, int[]? qlens, AttentionOptions o)
    {
        int n = lens.Length, maxBlocks = lens.Max() / bs + 1, numBlocks = n * maxBlocks + 3;
        var perm = Enumerable.Range(0, numBlocks).OrderBy(i => (i * 7919 + lens.Sum()) % 101).ThenBy(i => i).ToArray();
        var tables = new double[n * maxBlocks];
        int next = 0;
        for (int s = 0; s < n; s++)
            for (int t = 0; t < (lens[s] + bs - 1) / bs; t++) tables[s * maxBlocks + t] = perm[next++];
        var ins = new List<In>
        {
            In.Normal(F32, 1.5, n, hq, sq, d), In.Normal(F32, 1.5, numBlocks, hkv, bs, d), In.Normal(F32, 1, numBlocks, hkv, bs, d),
            In.Fixed(I32, [n, maxBlocks], tables), In.Fixed(I32, [n], [.. lens.Select(l => (double)l)]),
        };
        if (qlens is not null) ins.Add(In.Fixed(I32, [n], [.. qlens.Select(l => (double)l)]));

        // Sequence s as a contiguous problem, and where its output rows go.
        NaiveAttention.Problem Seq(Nd[] r, int s)
        {
            int len = lens[s], ql = qlens?[s] ?? sq;
            var q = new float[hq * ql * d];
            for (int h = 0; h < hq; h++) for (int i = 0; i < ql; i++) for (int c = 0; c < d; c++) q[(h * ql + i) * d + c] = (float)r[0][s, h, i, c];
            var k = new float[hkv * len * d];
            var v = new float[hkv * len * d];
            for (int h = 0; h < hkv; h++)
                for (int j = 0; j < len; j++)
                {
                    int blk = (int)r[3][s, j / bs];
                    for (int c = 0; c < d; c++) { k[(h * len + j) * d + c] = (float)r[1][blk, h, j % bs, c]; v[(h * len + j) * d + c] = (float)r[2][blk, h, j % bs, c]; }
                }
            return new(1, hq, hkv, ql, len, d, q, k, v, null, o);
        }
        Nd Assemble(Nd[] r, Func<NaiveAttention.Problem, double[]> run)
        {
            var y = Nd.Zeros(n, hq, sq, d);
            for (int s = 0; s < n; s++)
            {
                var p = Seq(r, s);
                var out0 = run(p);
                for (int h = 0; h < hq; h++) for (int i = 0; i < p.Sq; i++) for (int c = 0; c < d; c++) y[s, h, i, c] = out0[(h * p.Sq + i) * d + c];
            }
            return y;
        }
        string name = $"PagedAttention {hq}/{hkv} sq {sq} d {d} blocks of {bs} lens [{string.Join(", ", lens)}]" +
            $"{(qlens is null ? "" : $" queries [{string.Join(", ", qlens)}]")}{(o.Causal ? " causal" : "")}{(o.WindowLeft >= 0 ? $" window {o.WindowLeft}" : "")} f32";
        return new(name, [.. ins],
            t => [t[0].PagedAttention(t[1], t[2], t[3], t[4], o, qlens is null ? null : t[5])],
            r => [Assemble(r, p => NaiveAttention.Run(p).Out)],
            [new Out(F32, Check.Fused) { SamePrecision = r => Assemble(r, p => [.. NaiveAttention.RunF32(p).Select(x => (double)x)]) }]);
    }

    private static IEnumerable<OpRow> PagedAttention()
    {
        var causal = new AttentionOptions { Causal = true };
        yield return Paged(8, 2, 9, 64, 16, [1, 50, 77, 33], [1, 9, 4, 0], causal);
        yield return Paged(8, 2, 9, 128, 8, [1, 50, 77, 33], [1, 9, 4, 0], causal);
        yield return Paged(4, 2, 1, 64, 16, [37, 1, 70], null, causal);
        yield return Paged(2, 1, 3, 80, 8, [20, 3], [3, 3], causal with { WindowLeft = 7 });
        yield return Paged(4, 4, 5, 32, 16, [33, 17], [5, 2], AttentionOptions.Default);
        // Decode over long caches: the split-K (flash-decoding) path where a backend has one.
        yield return Paged(8, 8, 1, 64, 16, [700, 1, 1300], null, causal);
        // Decode over K/V read in place (few query rows a unit): blocks of odd sizes, groups 1 to 8, head dims 40 to 128.
        yield return Paged(8, 1, 1, 40, 5, [1, 7, 33, 161], null, causal);
        yield return Paged(4, 2, 1, 80, 3, [161, 1, 33], null, causal with { WindowLeft = 20 });
        yield return Paged(2, 2, 1, 128, 7, [7, 300], null, AttentionOptions.Default);
        yield return Paged(8, 2, 2, 64, 13, [33, 161, 2], [1, 2, 2], causal);
        // One call with both paths: 8 x 3 = 24 rows go to the tiles, 8 x 1 rows run in place.
        yield return Paged(16, 2, 3, 64, 9, [40, 90], [3, 1], causal);
    }
}
