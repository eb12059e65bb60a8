using static Tessera.DType;

namespace Tessera.Tests;

// Rows for decode attention: units (batch entry, kv head) with few query rows (Group x Sq up to the CPU's limit of 16),
// which the CPU runs over K and V in place instead of packing them (Attention/DecodeAttention.cs). Lengths that no
// vector width, key group or chunk divides, every common head dim, groups 1 to 8, limits that start and end inside a
// chunk, and the row counts either side of the limit, so that both CPU paths meet the same reference.
public static partial class OpTable
{
    private static IEnumerable<OpRow> DecodeAttention()
    {
        var causal = new AttentionOptions { Causal = true };
        foreach (int d in new[] { 40, 64, 80, 128 })
            foreach (int skv in new[] { 1, 7, 33, 161 })
                foreach (int group in new[] { 1, 2, 4, 8 })
                    yield return Attn(2, 2 * group, 2, 1, skv, d, causal);

        // Not causal; caches that span several 256-key chunks; windows whose first key is not a multiple of anything.
        yield return Attn(2, 8, 1, 1, 161, 80);
        yield return Attn(1, 4, 1, 1, 1000, 128, causal);
        yield return Attn(1, 8, 2, 1, 600, 64, causal with { WindowLeft = 300 });
        yield return Attn(2, 4, 4, 1, 161, 40, causal with { WindowLeft = 100 });
        yield return Attn(1, 2, 2, 1, 33, 64, new() { WindowLeft = 3, WindowRight = 5, QueryPosition = 20 });

        // Masks (a fifth of the keys hidden; with one or seven keys some rows see none and give zeros).
        yield return Attn(2, 8, 2, 1, 161, 64, mask: true);
        yield return Attn(2, 8, 2, 1, 7, 80, causal, mask: true);
        yield return Attn(2, 4, 4, 1, 1, 40, causal, mask: true);

        // A few query rows of different positions (speculative decode, short chunks): 12 and 16 rows run in place,
        // 17 and 24 rows go to the tiles; scale and an explicit query position.
        yield return Attn(1, 8, 2, 3, 40, 80, causal);
        yield return Attn(1, 4, 2, 8, 33, 64, causal);
        yield return Attn(1, 2, 2, 16, 161, 64);
        yield return Attn(1, 2, 2, 17, 161, 64, causal);
        yield return Attn(1, 8, 1, 3, 161, 128, causal);
        yield return Attn(1, 4, 2, 2, 50, 64, new() { Causal = true, QueryPosition = 20, Scale = 0.2f });

        // The log-sum-exp, and a row that sees no key (position -1) beside one that sees one.
        yield return Attn(1, 8, 2, 1, 161, 64, causal, lse: true);
        yield return Attn(1, 2, 1, 2, 6, 32, new() { Causal = true, QueryPosition = -1 }, lse: true);

        // Views: [B, S, H, D] permuted, a k and a v whose head dim is strided, bf16 (converted to f32 first).
        yield return AttnRow("BSHD perm decode [2, 8/2, 1x161, 80]", In.Normal(F32, 1.5, 2, 1, 8, 80).Viewed(t => t.Permute(0, 2, 1, 3)),
            In.Normal(F32, 1.5, 2, 161, 2, 80).Viewed(t => t.Permute(0, 2, 1, 3)), In.Normal(F32, 1, 2, 161, 2, 80).Viewed(t => t.Permute(0, 2, 1, 3)),
            null, causal);
        yield return AttnRow("k T head dim decode [2, 6/3, 1x37, 64]", In.Normal(F32, 1.5, 2, 6, 1, 64),
            In.Normal(F32, 1.5, 2, 3, 64, 37).Viewed(t => t.Transpose(2, 3)), In.Normal(F32, 1, 2, 3, 37, 64), null, causal);
        yield return AttnRow("v T head dim decode [2, 6/3, 1x37, 40]", In.Normal(F32, 1.5, 2, 6, 1, 40),
            In.Normal(F32, 1.5, 2, 3, 37, 40), In.Normal(F32, 1, 2, 3, 40, 37).Viewed(t => t.Transpose(2, 3)), null, causal);
        yield return new("Attention decode [1, 4/2, 1x33, 64] bf16", [In.Normal(BF16, 1.5, 1, 4, 1, 64), In.Normal(BF16, 1.5, 1, 2, 33, 64), In.Normal(BF16, 1, 1, 2, 33, 64)],
            t => t[0].Attention(t[1], t[2]), r => { var p = Problem(r[0], r[1], r[2], null, AttentionOptions.Default); return OutNd(p, Reference.NaiveAttention.Run(p).Out); },
            Check.Close, BF16, 2e-2);
    }
}
