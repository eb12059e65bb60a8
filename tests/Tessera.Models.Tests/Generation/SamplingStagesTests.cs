using Tessera.Models.Generation;
using Tessera.Models.Generation.Sampling;

namespace Tessera.Models.Tests.Generation;

/// <summary>Each stage of the sampling chain on fixed logits against its definition written out here (llama.cpp's:
/// which tokens survive and their renormalised probabilities), the whole chain's draws against the resulting
/// distribution by a chi-square test, and the penalties and logit bias against their formulas.</summary>
public sealed class SamplingStagesTests
{
    // No ties, so that every ranking is unambiguous.
    private static readonly float[] Logits = [2.0f, 1.0f, 0.5f, 3.0f, -1.0f, 0.0f, 1.5f, -2.0f, 2.5f, -0.5f];

    private static double[] Softmax(IEnumerable<double> l)
    {
        var a = l.ToArray();
        double max = a.Max();
        var e = a.Select(x => Math.Exp(x - max)).ToArray();
        double z = e.Sum();
        return e.Select(x => x / z).ToArray();
    }

    // Expected survivors of a stage, given the survivors before it (ids), by definition.
    private static int[] ByLogitDesc(int[] ids) => ids.OrderByDescending(i => Logits[i]).ToArray();

    private static int[] TopKDef(int[] ids, int k) => ByLogitDesc(ids).Take(k).ToArray();

    private static int[] TopPDef(int[] ids, double p)
    {
        var sorted = ByLogitDesc(ids);
        var probs = Softmax(sorted.Select(i => (double)Logits[i]));
        double cum = 0;
        for (int i = 0; i < sorted.Length; i++)
            if ((cum += probs[i]) >= p) return sorted[..(i + 1)];
        return sorted;
    }

    private static int[] MinPDef(int[] ids, double p)
    {
        var probs = Softmax(ids.Select(i => (double)Logits[i]));
        double max = probs.Max();
        return ids.Where((_, j) => probs[j] >= p * max).ToArray();
    }

    private static int[] TypicalDef(int[] ids, double p)
    {
        var probs = Softmax(ids.Select(i => (double)Logits[i]));
        double h = -probs.Sum(q => q * Math.Log(q));
        var order = Enumerable.Range(0, ids.Length).OrderBy(j => Math.Abs(-Math.Log(probs[j]) - h)).ToArray();
        double cum = 0;
        var kept = new List<int>();
        foreach (int j in order)
        {
            kept.Add(ids[j]);
            if ((cum += probs[j]) > p) break;
        }
        return [.. kept];
    }

    private static TokenCandidates Fresh()
    {
        var c = new TokenCandidates();
        c.Reset(Logits);
        return c;
    }

    private static void AssertSurvivors(int[] expected, TokenCandidates c, double temperature = 1)
    {
        Assert.Equal(expected.Order().ToArray(), c.Ids.ToArray().Order().ToArray());
        // The stage's probabilities: softmax over the survivors' (tempered) logits, by definition.
        var want = Softmax(expected.Select(i => Logits[i] / temperature)).Select((p, j) => (expected[j], p)).ToDictionary();
        c.Softmax();
        for (int j = 0; j < c.Count; j++) Assert.Equal(want[c.Ids[j]], c.Probabilities[j], 1e-6);
    }

    private static readonly int[] All = Enumerable.Range(0, Logits.Length).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(0)]   // off
    [InlineData(50)]  // more than the vocabulary: off
    public void Top_k_keeps_the_k_highest_logits(int k)
    {
        var c = Fresh();
        SamplingStages.TopK(c, k);
        AssertSurvivors(k <= 0 ? All : TopKDef(All, k), c);
    }

    [Fact]
    public void Top_k_over_a_large_vocabulary_keeps_the_k_largest_in_order()
    {
        var rng = new Random(9);
        var logits = Enumerable.Range(0, 32000).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        var c = new TokenCandidates();
        c.Reset(logits);
        SamplingStages.TopK(c, 40);
        var want = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).Take(40).ToArray();
        Assert.Equal(want, c.Ids.ToArray());
        Assert.True(c.Sorted);
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    [InlineData(0.99f)]
    [InlineData(1f)]
    public void Top_p_keeps_the_smallest_prefix_reaching_p(float p)
    {
        var c = Fresh();
        SamplingStages.TopP(c, p);
        AssertSurvivors(p >= 1 ? All : TopPDef(All, p), c);
        if (p is > 0.1f and < 1f) Assert.InRange(c.Count, 2, Logits.Length - 1); // the cases really cut
    }

    [Theory]
    [InlineData(0.05f)]
    [InlineData(0.2f)]
    [InlineData(0.6f)]
    [InlineData(0f)]
    public void Min_p_keeps_tokens_within_p_of_the_top(float p)
    {
        var c = Fresh();
        SamplingStages.MinP(c, p);
        AssertSurvivors(p <= 0 ? All : MinPDef(All, p), c);
    }

    [Theory]
    [InlineData(0.2f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    [InlineData(1f)]
    public void Typical_keeps_the_tokens_closest_to_the_entropy(float p)
    {
        var c = Fresh();
        SamplingStages.Typical(c, p);
        AssertSurvivors(p >= 1 ? All : TypicalDef(All, p), c);
    }

    [Fact]
    public void Temperature_divides_the_logits_and_zero_keeps_the_top()
    {
        var c = Fresh();
        SamplingStages.Temperature(c, 0.7f);
        AssertSurvivors(All, c, temperature: 0.7);
        var g = Fresh();
        SamplingStages.Temperature(g, 0f);
        Assert.Equal([3], g.Ids.ToArray());
    }

    // The chain in llama.cpp's order, stage by stage by definition, then draws against the result.
    [Fact]
    public void The_chain_applies_the_stages_in_order_and_its_draws_follow_the_result()
    {
        var o = new GenerationOptions { TopK = 8, Typical = 0.97f, TopP = 0.95f, MinP = 0.05f, Temperature = 0.8f, Seed = 7 };
        int[] want = MinPDef(TopPDef(TypicalDef(TopKDef(All, 8), 0.97), 0.95), 0.05);
        Assert.InRange(want.Length, 3, 7); // every stage matters on these logits
        var chain = new SamplerChain(o);
        var row = new float[Logits.Length];
        Logits.CopyTo(row, 0);
        chain.Sample(row);
        AssertSurvivors(want, chain.Candidates, temperature: 0.8);

        var p = Softmax(want.Select(i => Logits[i] / 0.8));
        var counts = new Dictionary<int, int>();
        const int n = 60_000;
        for (int d = 0; d < n; d++)
        {
            Logits.CopyTo(row, 0);
            int t = chain.Sample(row);
            counts[t] = counts.GetValueOrDefault(t) + 1;
        }
        Assert.All(counts.Keys, t => Assert.Contains(t, want));
        double chi2 = want.Select((id, j) => Math.Pow(counts.GetValueOrDefault(id) - n * p[j], 2) / (n * p[j])).Sum();
        // The 0.999 quantile of chi-square with up to 6 degrees of freedom is 22.46.
        Assert.True(chi2 < 22.46, $"chi-square {chi2:F2} over {want.Length} tokens");
    }

    [Fact]
    public void Same_seed_same_draws_and_another_seed_differs()
    {
        int[] Draws(int seed)
        {
            var chain = new SamplerChain(new GenerationOptions { Temperature = 1.3f, TopP = 0.98f, Seed = seed });
            var row = new float[Logits.Length];
            return Enumerable.Range(0, 64).Select(_ => { Logits.CopyTo(row, 0); return chain.Sample(row); }).ToArray();
        }
        Assert.Equal(Draws(5), Draws(5));
        Assert.NotEqual(Draws(5), Draws(6));
    }

    [Fact]
    public void Penalties_follow_llama_cpps_formula_over_the_window()
    {
        int[] window = [3, 3, 1, 4, 3];
        var row = (float[])Logits.Clone();
        SamplingStages.Penalties(row, window, repeat: 1.5f, frequency: 0.2f, presence: 0.5f);
        for (int i = 0; i < Logits.Length; i++)
        {
            int count = window.Count(t => t == i);
            float l = Logits[i];
            float want = count == 0 ? l : (l <= 0 ? l * 1.5f : l / 1.5f) - count * 0.2f - 0.5f;
            Assert.Equal(want, row[i], 5);
        }
    }

    [Fact]
    public void The_chain_penalises_only_the_last_n_tokens_and_greedy_takes_the_penalised_argmax()
    {
        var o = new GenerationOptions { RepeatPenalty = 10f, RepeatLastN = 2 };
        var chain = new SamplerChain(o);
        chain.AcceptPrompt([3, 8]);     // both in the window: 3 (logit 3.0) and 8 (2.5) fall below 0 (2.0)
        Assert.Equal(0, chain.Sample((float[])Logits.Clone()));
        chain.Accept(0);
        chain.Accept(6);                // the window is now [0, 6]: 3 is back on top
        Assert.Equal(3, chain.Sample((float[])Logits.Clone()));
    }

    [Fact]
    public void Logit_bias_moves_and_bans_tokens()
    {
        var chain = new SamplerChain(new GenerationOptions { LogitBias = new Dictionary<int, float> { [7] = 10f } });
        Assert.Equal(7, chain.Sample((float[])Logits.Clone()));
        var ban = new SamplerChain(new GenerationOptions { Temperature = 1f, Seed = 1, LogitBias = new Dictionary<int, float> { [3] = float.NegativeInfinity, [8] = float.NegativeInfinity } });
        for (int i = 0; i < 2000; i++) Assert.DoesNotContain(ban.Sample((float[])Logits.Clone()), new[] { 3, 8 });
        var bad = new SamplerChain(new GenerationOptions { LogitBias = new Dictionary<int, float> { [99] = 1f } });
        Assert.Contains("token 99", Assert.Throws<TesseraException>(() => bad.Sample((float[])Logits.Clone())).Message);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(37)]
    [InlineData(32000)]
    public void Greedy_takes_the_first_largest_logit_and_names_a_nan_or_an_all_banned_vocabulary(int vocab)
    {
        var chain = new SamplerChain(new GenerationOptions());
        var rng = new Random(vocab);
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)rng.NextDouble() * 4 - 2).ToArray();
        int want = 0;
        for (int i = 1; i < vocab; i++) if (logits[i] > logits[want]) want = i;
        Assert.Equal(want, chain.Sample((float[])logits.Clone()));
        // Ties go to the first token; -0 and +0 are equal (the first zero wins over a later +0).
        var ties = new float[vocab];
        Array.Fill(ties, -1f);
        ties[vocab - 1] = 3f;
        ties[vocab / 2] = 3f;
        Assert.Equal(vocab / 2, chain.Sample((float[])ties.Clone()));
        var zeros = new float[vocab];
        Array.Fill(zeros, -1f);
        zeros[vocab / 3] = -0f;
        zeros[vocab - 1] = 0f;
        Assert.Equal(vocab / 3, chain.Sample(zeros));
        var nan = (float[])logits.Clone();
        nan[vocab - 1] = float.NaN;
        Assert.Contains($"token {vocab - 1} is NaN", Assert.Throws<TesseraException>(() => chain.Sample(nan)).Message);
        var banned = new float[vocab];
        Array.Fill(banned, float.NegativeInfinity);
        Assert.Contains("banned", Assert.Throws<TesseraException>(() => chain.Sample(banned)).Message);
    }

    [Fact]
    public void Bad_options_name_the_value()
    {
        Assert.Contains("top-p", Assert.Throws<TesseraException>(() => new GenerationOptions { TopP = 1.5f }.Validate()).Message);
        Assert.Contains("top-k", Assert.Throws<TesseraException>(() => new GenerationOptions { TopK = -2 }.Validate()).Message);
        Assert.Contains("repeat penalty", Assert.Throws<TesseraException>(() => new GenerationOptions { RepeatPenalty = 0 }.Validate()).Message);
        Assert.Contains("stop string", Assert.Throws<TesseraException>(() => new GenerationOptions { StopStrings = [""] }.Validate()).Message);
    }
}
