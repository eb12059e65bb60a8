namespace Tessera.Models.Generation.Sampling;

/// <summary>The stages of llama.cpp's sampling chain (src/llama-sampling.cpp), each with llama.cpp's definition and
/// <c>min_keep</c> = 1. A stage that is switched off by its value (top-k 0, top-p 1, ...) leaves the candidates alone.</summary>
public static class SamplingStages
{
    /// <summary>Adds each bias to its token's logit.</summary>
    public static void LogitBias(Span<float> logits, IReadOnlyDictionary<int, float> bias)
    {
        foreach (var (id, b) in bias)
        {
            if ((uint)id >= (uint)logits.Length)
                throw new TesseraException($"sampler: logit bias for token {id}, but the vocabulary has {logits.Length} tokens");
            logits[id] += b;
        }
    }

    /// <summary>Repetition, frequency and presence penalties: for each token that occurs c > 0 times in
    /// <paramref name="window"/> (the last N tokens), its logit is divided by <paramref name="repeat"/> when positive or
    /// multiplied by it when not, then lowered by c * <paramref name="frequency"/> + <paramref name="presence"/>.</summary>
    public static void Penalties(Span<float> logits, ReadOnlySpan<int> window, float repeat, float frequency, float presence)
    {
        if (window.IsEmpty || repeat == 1f && frequency == 0f && presence == 0f) return;
        var counts = new Dictionary<int, int>();
        foreach (int t in window) counts[t] = counts.GetValueOrDefault(t) + 1;
        foreach (var (id, c) in counts)
        {
            if ((uint)id >= (uint)logits.Length) continue;
            ref float l = ref logits[id];
            if (float.IsNegativeInfinity(l)) continue;
            l = l <= 0 ? l * repeat : l / repeat;
            l -= c * frequency + presence;
        }
    }

    /// <summary>Keeps the <paramref name="k"/> highest logits (k &lt;= 0: all).</summary>
    public static void TopK(TokenCandidates c, int k)
    {
        if (k <= 0 || k >= c.Count) return;
        c.KeepTop(k);
    }

    /// <summary>Locally typical sampling (Meister et al.): ranks tokens by |-log p - H| (H the entropy) and keeps the
    /// smallest such prefix whose probability passes <paramref name="p"/> (p >= 1: all).</summary>
    public static void Typical(TokenCandidates c, float p)
    {
        if (p >= 1f || c.Count <= 1) return;
        c.Softmax();
        var probs = c.Probabilities;
        double entropy = 0;
        foreach (double q in probs) if (q > 0) entropy -= q * Math.Log(q);
        var shifted = new double[c.Count];
        var order = new int[c.Count];
        for (int i = 0; i < c.Count; i++)
        {
            shifted[i] = Math.Abs(-Math.Log(probs[i]) - entropy);
            order[i] = i;
        }
        // Stable, so that equal scores keep their logit order.
        Array.Sort(order, (a, b) => shifted[a] != shifted[b] ? shifted[a].CompareTo(shifted[b]) : a.CompareTo(b));
        int keep = c.Count;
        double cum = 0;
        for (int i = 0; i < order.Length; i++)
        {
            cum += probs[order[i]];
            if (cum > p)
            {
                keep = i + 1;
                break;
            }
        }
        c.KeepInOrder(order, keep);
    }

    /// <summary>Nucleus sampling: keeps the most likely tokens until their probability reaches <paramref name="p"/>
    /// (p >= 1: all).</summary>
    public static void TopP(TokenCandidates c, float p)
    {
        if (p >= 1f || c.Count <= 1) return;
        c.Softmax();
        var probs = c.Probabilities;
        double cum = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            cum += probs[i];
            if (cum >= p)
            {
                c.Truncate(i + 1);
                return;
            }
        }
    }

    /// <summary>Keeps the tokens whose probability is at least <paramref name="p"/> times the top token's (p &lt;= 0: all);
    /// on logits: logit >= max + ln p.</summary>
    public static void MinP(TokenCandidates c, float p)
    {
        if (p <= 0f || c.Count <= 1) return;
        c.Sort();
        float min = c.Logits[0] + MathF.Log(p);
        int keep = 1;
        while (keep < c.Count && c.Logits[keep] >= min) keep++;
        c.Truncate(keep);
    }

    /// <summary>Divides the logits by <paramref name="t"/>; t &lt;= 0 keeps only the top token (greedy).</summary>
    public static void Temperature(TokenCandidates c, float t)
    {
        if (t <= 0f)
        {
            c.Sort();
            c.Truncate(1);
            return;
        }
        if (t == 1f) return;
        var l = c.Logits;
        for (int i = 0; i < l.Length; i++) l[i] /= t;
    }

    /// <summary>Draws one id from softmax over the live logits (in their current order) with <paramref name="random"/>.</summary>
    public static int Draw(TokenCandidates c, Random random)
    {
        if (c.Count == 0) throw new TesseraException("sampler: no token is left to draw from");
        var l = c.Logits;
        float max = l[0];
        for (int i = 1; i < l.Length; i++) max = MathF.Max(max, l[i]);
        var probs = c.Probabilities;
        double sum = 0;
        for (int i = 0; i < l.Length; i++) sum += probs[i] = Math.Exp((double)l[i] - max);
        double u = random.NextDouble() * sum, acc = 0;
        for (int i = 0; i < l.Length; i++)
        {
            acc += probs[i];
            if (u < acc) return c.Ids[i];
        }
        // u landed on the rounding slack at the top: the likeliest token.
        int best = 0;
        for (int i = 1; i < l.Length; i++) if (l[i] > l[best]) best = i;
        return c.Ids[best];
    }
}
