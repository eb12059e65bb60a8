using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for fused attention and paged attention, judged by FlashAttention's rule against NaiveAttention (fp64, and the
// naive f32 attention whose error sets the bar). q and k are drawn with std 1.5, which gives peaked softmaxes (scores
// of several units) and stresses the running max; v with std 1.
public static partial class OpTable
{
    private static NaiveAttention.Problem Problem(Nd q, Nd k, Nd v, Nd? mask, AttentionOptions o)
    {
        static float[] F(Nd n) => [.. n.Data.Select(x => (float)x)];
        int b = q.Shape[0], hq = q.Shape[1], sq = q.Shape[2], d = q.Shape[3], hkv = k.Shape[1], skv = k.Shape[2];
        return new(b, hq, hkv, sq, skv, d, F(q), F(k), F(v), mask is null ? null : F(mask.BroadcastTo([b, hq, sq, skv])), o);
    }

    private static Nd OutNd(NaiveAttention.Problem p, double[] o) => new([p.B, p.Hq, p.Sq, p.D], o);

    /// <summary>An attention row on operands q [B, Hq, Sq, D], k and v [B, Hkv, Skv, D] (any views), an optional mask
    /// broadcastable to [B, Hq, Sq, Skv]; with <paramref name="lse"/> the log-sum-exp is a second output, each element
    /// within 1e-5 of the fp64 one relative to max(1, |lse|).</summary>
    private static OpRow AttnRow(string label, In q, In k, In v, In? mask, AttentionOptions o, bool lse = false)
    {
        In[] ins = mask is null ? [q, k, v] : [q, k, v, mask];
        NaiveAttention.Problem P(Nd[] r) => Problem(r[0], r[1], r[2], mask is null ? null : r[3], o);
        var fused = new Out(q.DType, Check.Fused) { SamePrecision = r => { var p = P(r); return OutNd(p, [.. NaiveAttention.RunF32(p).Select(x => (double)x)]); } };
        string name = $"Attention {label}{(o.Causal ? " causal" : "")}{(o.WindowLeft >= 0 || o.WindowRight >= 0 ? $" window {o.WindowLeft}/{o.WindowRight}" : "")}" +
            $"{(o.Scale is { } s ? $" scale {s}" : "")}{(o.QueryPosition is { } qp ? $" at {qp}" : "")}{(mask is null ? "" : " mask")}{(lse ? " lse" : "")} {N(q.DType)}";
        if (!lse)
            return new(name, ins, t => [t[0].Attention(t[1], t[2], o, mask is null ? null : t[3])],
                r => { var p = P(r); return [OutNd(p, NaiveAttention.Run(p).Out)]; }, [fused]);
        return new(name, ins,
            t => { var (out0, l) = t[0].AttentionWithLse(t[1], t[2], o, mask is null ? null : t[3]); return [out0, l]; },
            r => { var p = P(r); var (out0, l) = NaiveAttention.Run(p); return [OutNd(p, out0), new Nd([p.B, p.Hq, p.Sq], l)]; },
            [fused, new Out(F32, Check.Close, 1e-5)]);
    }

    /// <summary>A row on contiguous operands of the given sizes.</summary>
    private static OpRow Attn(int b, int hq, int hkv, int sq, int skv, int d, AttentionOptions? o = null, bool mask = false, bool lse = false) =>
        AttnRow($"[{b}, {hq}/{hkv}, {sq}x{skv}, {d}]", In.Normal(F32, 1.5, b, hq, sq, d), In.Normal(F32, 1.5, b, hkv, skv, d), In.Normal(F32, 1, b, hkv, skv, d),
            mask ? new In(F32, [b, hq, sq, skv], (r, _) => r.Next(5) == 0 ? double.NegativeInfinity : In.Gaussian(r)) : null,
            o ?? AttentionOptions.Default, lse);

    private static IEnumerable<OpRow> Attention()
    {
        // Odd lengths, both alignments of a rectangular problem, and head dims from 20 to 256.
        foreach (var (sq, skv) in new[] { (1, 1), (7, 7), (33, 33), (197, 197), (300, 300), (7, 300), (300, 33) })
            foreach (bool causal in new[] { false, true })
                yield return Attn(1, 2, 2, sq, skv, 64, new() { Causal = causal });
        foreach (int d in new[] { 32, 80, 128, 256, 20 }) yield return Attn(2, 2, 1, 45, 77, d);

        // Grouped- and multi-query, decode (one query over a long cache), chunked prefill.
        yield return Attn(1, 12, 4, 70, 70, 64, new() { Causal = true });
        yield return Attn(2, 12, 1, 33, 90, 32);
        yield return Attn(1, 12, 4, 1, 500, 64, new() { Causal = true });
        yield return Attn(2, 4, 4, 1, 1000, 64, new() { Causal = true });
        yield return Attn(1, 4, 2, 1, 333, 128);
        yield return Attn(1, 2, 2, 5, 400, 64, new() { Causal = true });

        // Masks and windows.
        yield return Attn(2, 3, 3, 40, 150, 64, mask: true);
        yield return Attn(1, 4, 2, 100, 100, 64, new() { Causal = true, WindowLeft = 17 });
        yield return Attn(1, 2, 2, 130, 130, 32, new() { WindowLeft = 9, WindowRight = 40 });
        yield return Attn(1, 2, 2, 10, 300, 64, new() { Causal = true, WindowLeft = 150, Scale = 0.3f });
        yield return Attn(1, 2, 2, 20, 20, 64, new() { Causal = true, QueryPosition = 10 });
        // A padding mask [B, 1, 1, Skv] broadcast by the front end: the second batch entry hides its last 20 keys.
        yield return AttnRow("[2, 2/2, 9x50, 32] padding", In.Normal(F32, 1.5, 2, 2, 9, 32), In.Normal(F32, 1.5, 2, 2, 50, 32), In.Normal(F32, 1, 2, 2, 50, 32),
            In.Fixed(F32, [2, 1, 1, 50], [.. Enumerable.Range(0, 100).Select(i => i >= 80 ? double.NegativeInfinity : 0)]), AttentionOptions.Default);

        // The log-sum-exp output, and rows that see no key at all (zeros and lse -inf).
        yield return Attn(1, 4, 2, 65, 130, 64, new() { Causal = true }, lse: true);
        yield return Attn(1, 1, 1, 4, 6, 32, new() { Causal = true, QueryPosition = -3 }, lse: true);

        // [B, S, H, D] data (as a projection writes it) permuted to [B, H, S, D] as views; a k whose head dim is strided.
        yield return AttnRow("BSHD perm [2, 6/3, 37x37, 64]", In.Normal(F32, 1.5, 2, 37, 6, 64).Viewed(t => t.Permute(0, 2, 1, 3)),
            In.Normal(F32, 1.5, 2, 37, 3, 64).Viewed(t => t.Permute(0, 2, 1, 3)), In.Normal(F32, 1, 2, 37, 3, 64).Viewed(t => t.Permute(0, 2, 1, 3)),
            null, new() { Causal = true });
        yield return AttnRow("k T head dim [2, 6/3, 37x37, 64]", In.Normal(F32, 1.5, 2, 6, 37, 64),
            In.Normal(F32, 1.5, 2, 3, 64, 37).Viewed(t => t.Transpose(2, 3)), In.Normal(F32, 1, 2, 3, 37, 64), null, new() { Causal = true });

        // bf16 inputs and output: every element within 2e-2 of the fp64 attention of the rounded inputs.
        yield return new("Attention [1, 2/2, 20x40, 64] bf16", [In.Normal(BF16, 1.5, 1, 2, 20, 64), In.Normal(BF16, 1.5, 1, 2, 40, 64), In.Normal(BF16, 1, 1, 2, 40, 64)],
            t => t[0].Attention(t[1], t[2]), r => { var p = Problem(r[0], r[1], r[2], null, AttentionOptions.Default); return OutNd(p, NaiveAttention.Run(p).Out); },
            Check.Close, BF16, 2e-2);

        // Decode: few query rows a unit (OpTable.AttentionDecode.cs).
        foreach (var row in DecodeAttention()) yield return row;
    }
}
