using Tessera.Imaging;
using Tessera.Cpu;
using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>CTC prefix beam search against a brute-force oracle (every alignment of tiny inputs enumerated and
/// collapsed), against greedy decoding where the two must agree, and on the real recogniser.</summary>
public sealed class CtcBeamSearchTests(OcrRecFixture f) : IClassFixture<OcrRecFixture>
{
    // The oracle: for every path of `steps` classes, its probability and the greedy-style confidence (mean probability
    // where each character starts); per collapsed labelling, the summed probability and the confidence of its most
    // probable path.
    private static Dictionary<string, (double Prob, double BestPath, double Confidence)> Enumerate(float[] p, int steps, int classes)
    {
        var result = new Dictionary<string, (double Prob, double BestPath, double Confidence)>();
        var path = new int[steps];
        long count = (long)Math.Pow(classes, steps);
        for (long code = 0; code < count; code++)
        {
            long c = code;
            for (int s = 0; s < steps; s++) { path[s] = (int)(c % classes); c /= classes; }
            double prob = 1, startSum = 0;
            var labels = new List<int>();
            for (int s = 0; s < steps; s++)
            {
                prob *= p[s * classes + path[s]];
                if (path[s] != 0 && (s == 0 || path[s] != path[s - 1]))
                {
                    labels.Add(path[s]);
                    startSum += p[s * classes + path[s]];
                }
            }
            string key = string.Join(",", labels);
            double conf = labels.Count == 0 ? 0 : startSum / labels.Count;
            var old = result.GetValueOrDefault(key, (0, -1, 0));
            result[key] = (old.Prob + prob, Math.Max(old.BestPath, prob), prob > old.BestPath ? conf : old.Confidence);
        }
        return result;
    }

    private static float[] RandomProbs(Random rng, int steps, int classes, double peak = 0)
    {
        var p = new float[steps * classes];
        for (int s = 0; s < steps; s++)
        {
            var row = p.AsSpan(s * classes, classes);
            double sum = 0;
            for (int c = 0; c < classes; c++) { row[c] = (float)Math.Exp(3 * rng.NextDouble()); sum += row[c]; }
            for (int c = 0; c < classes; c++) row[c] = (float)(row[c] / sum);
            if (peak > 0)
            {
                // One class (often the blank) takes `peak` of the mass, the rest share what is left.
                int top = rng.Next(3) == 0 ? 0 : rng.Next(classes);
                for (int c = 0; c < classes; c++) row[c] *= (float)(1 - peak);
                row[top] += (float)peak;
            }
        }
        return p;
    }

    [Fact]
    public void Wide_beam_finds_the_most_probable_labelling_of_every_alignment()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 60; trial++)
        {
            int steps = 1 + rng.Next(6), classes = 2 + rng.Next(3);
            var p = RandomProbs(rng, steps, classes);
            var oracle = Enumerate(p, steps, classes);
            var best = oracle.MaxBy(kv => kv.Value.Prob);
            var got = CtcBeamSearch.DecodeLine(p, steps, classes, beamWidth: 5000, topK: classes, minProb: 0);
            string why = $"trial {trial}, T={steps}, classes={classes}";
            Assert.True(best.Key == string.Join(",", got.Labels), $"{why}: beam '{string.Join(",", got.Labels)}', oracle '{best.Key}'");
            Assert.True(Math.Abs(Math.Exp(got.LogProb) - best.Value.Prob) < 1e-6, $"{why}: p {Math.Exp(got.LogProb)} vs {best.Value.Prob}");
            Assert.True(Math.Abs(got.Confidence - best.Value.Confidence) < 1e-6, $"{why}: confidence {got.Confidence} vs {best.Value.Confidence}");
        }
    }

    [Fact]
    public void Narrow_pruned_beam_reports_the_exact_probability_of_what_it_found()
    {
        // With pruning the search may miss the best labelling, but the probability it reports for its labelling is
        // that labelling's full sum over alignments, never more than the best's.
        var rng = new Random(5);
        for (int trial = 0; trial < 40; trial++)
        {
            int steps = 2 + rng.Next(5), classes = 3 + rng.Next(2);
            var p = RandomProbs(rng, steps, classes);
            var oracle = Enumerate(p, steps, classes);
            var got = CtcBeamSearch.DecodeLine(p, steps, classes, beamWidth: 2, topK: 2, minProb: 0.05f);
            var mine = oracle[string.Join(",", got.Labels)];
            Assert.Equal(mine.Prob, Math.Exp(got.LogProb), 9);
            Assert.Equal(mine.Confidence, got.Confidence, 6);
            Assert.True(mine.Prob <= oracle.Values.Max(v => v.Prob) + 1e-12);
        }
    }

    [Fact]
    public void Beam_reads_what_greedy_misses_in_the_classic_case()
    {
        // Two steps of (blank 0.6, a 0.4): the best path is blank-blank (0.36), so greedy reads "", but "a" collects
        // a-, -a and aa: 0.24 + 0.24 + 0.16 = 0.64.
        float[] p = [0.6f, 0.4f, 0.6f, 0.4f];
        using var t = Tensor.FromArray(f.Cpu, p, 1, 2, 2);
        Assert.Equal("", PpOcrRecognizer.DecodeGreedy(t, ["", "a"])[0].Text);
        var beam = CtcBeamSearch.DecodeLine(p, 2, 2, beamWidth: 2);
        Assert.Equal([1], beam.Labels);
        Assert.Equal(0.64, Math.Exp(beam.LogProb), 6);
        Assert.Equal(0.4, beam.Confidence, 6);
        Assert.Equal("a", CtcBeamSearch.Decode(t, ["", "a"], beamWidth: 2)[0].Text);
    }

    [Fact]
    public void Pipeline_decodes_any_recogniser_greedily_or_by_beam_as_told()
    {
        // A stand-in recogniser giving the classic case for every crop: greedy reads nothing, the beam reads "a".
        var line = TestText.Render("7");
        OcrPipeline With(int beam, ITextRecognizer rec) =>
            new(f.Cpu, new OcrOptions { RecognitionOnly = true, BeamWidth = beam }, rec, null, ownsModels: false);
        using var classic = new FixedRecognizer(f.Cpu, [0.6f, 0.4f, 0.6f, 0.4f], 2, ["", "a"]);
        using (var greedy = With(1, classic)) Assert.Equal("", Assert.Single(greedy.Run(line).Lines).Text);
        using (var beam = With(3, classic)) Assert.Equal("a", Assert.Single(beam.Run(line).Lines).Text);
        using var wrong = new FixedRecognizer(f.Cpu, [0.6f, 0.4f, 0.6f, 0.4f], 2, ["", "a", "b"]);
        using var p = With(3, wrong);
        Assert.Contains("[1, T, 3], got [1, 2, 2]", Assert.Throws<TesseraException>(() => p.Run(line)).Message);
    }

    // The same probabilities [steps, classes] for every crop, whatever it shows.
    private sealed class FixedRecognizer(IBackend backend, float[] perLine, int steps, string[] characters) : ITextRecognizer
    {
        public IReadOnlyList<string> Characters => characters;
        public int ImageHeight => 48;
        public int MinImageWidth => 320;
        public Tensor Forward(Tensor batch)
        {
            int b = batch.Shape[0];
            var p = new float[b * perLine.Length];
            for (int i = 0; i < b; i++) perLine.CopyTo(p, i * perLine.Length);
            return Tensor.FromArray(backend, p, b, steps, perLine.Length / steps);
        }
        public void Dispose() { }
    }

    [Fact]
    public void Beam_merges_repeats_only_across_a_blank()
    {
        // a a blank a: three paths' worth of "aa"; a plain greedy reading of the best path is also "aa".
        float[] p = [0.1f, 0.9f, 0.1f, 0.9f, 0.9f, 0.1f, 0.1f, 0.9f];
        Assert.Equal([1, 1], CtcBeamSearch.DecodeLine(p, 4, 2, beamWidth: 4).Labels);
        float[] q = [0.1f, 0.9f, 0.1f, 0.9f, 0.1f, 0.9f];
        Assert.Equal([1], CtcBeamSearch.DecodeLine(q, 3, 2, beamWidth: 4).Labels);
    }

    [Fact]
    public void Width_one_equals_greedy_when_each_step_has_a_clear_winner()
    {
        // With one class over 0.9 at each step, a single beam keeps the greedy path's prefix at every step.
        var rng = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            int steps = 1 + rng.Next(30), classes = 2 + rng.Next(8);
            var p = RandomProbs(rng, steps, classes, peak: 0.92);
            using var t = Tensor.FromArray(f.Cpu, p, 1, steps, classes);
            var chars = Enumerable.Range(0, classes).Select(c => c == 0 ? "" : ((char)('a' + c - 1)).ToString()).ToArray();
            var greedy = PpOcrRecognizer.DecodeGreedy(t, chars)[0];
            var beam = CtcBeamSearch.Decode(t, chars, beamWidth: 1)[0];
            Assert.Equal(greedy.Text, beam.Text);
            Assert.Equal(greedy.Confidence, beam.Confidence, 5);
        }
    }

    [Fact]
    public void Empty_and_all_blank_inputs_decode_to_nothing()
    {
        var none = CtcBeamSearch.DecodeLine([], 0, 3, beamWidth: 3);
        Assert.Empty(none.Labels);
        Assert.Equal(0, none.LogProb);
        var blank = CtcBeamSearch.DecodeLine([1f, 0f, 1f, 0f], 2, 2, beamWidth: 3);
        Assert.Empty(blank.Labels);
        Assert.Equal(0f, blank.Confidence);
    }

    [Fact]
    public void Bad_arguments_are_refused_with_their_values()
    {
        Assert.Contains("got 0", Assert.Throws<TesseraException>(() => CtcBeamSearch.DecodeLine([1f], 1, 1, beamWidth: 0)).Message);
        Assert.Contains("5 probabilities", Assert.Throws<TesseraException>(() => CtcBeamSearch.DecodeLine(new float[5], 2, 3, 2)).Message);
        using var t = Tensor.Zeros(f.Cpu, DType.F32, new Shape(1, 3, 5));
        Assert.Contains("[1, 3, 5]", Assert.Throws<TesseraException>(() => CtcBeamSearch.Decode(t, ["", "a"], 2)).Message);
        var e = Assert.Throws<TesseraException>(() => new OcrPipeline(f.Cpu, new OcrOptions { BeamWidth = 0 }, f.Rec, null));
        Assert.Contains("BeamWidth", e.Message);
    }

    [Theory]
    [InlineData("THE HEAT 2024")]
    [InlineData("1234567890 HALT")]
    public void Real_recogniser_reads_a_rendered_line_the_same_with_beam_5(string text)
    {
        var line = TestText.Render(text);
        using var batch = PpOcrPreprocess.Batch(f.Cpu, [line]);
        using var probs = f.Rec.Forward(batch);
        var greedy = PpOcrRecognizer.DecodeGreedy(probs, f.Rec.Characters)[0];
        var beam = CtcBeamSearch.Decode(probs, f.Rec.Characters, beamWidth: 5)[0];
        Assert.Equal(text, greedy.Text);
        Assert.Equal(text, beam.Text);
        Assert.Equal(greedy.Confidence, beam.Confidence, 5);

        // And through the pipeline, recognition only, where BeamWidth chooses the decoder.
        var img = new Image(line.Pixels, line.Width, line.Height, 3);
        using var p1 = new OcrPipeline(f.Cpu, new OcrOptions { RecognitionOnly = true }, f.Rec, null, ownsModels: false);
        using var p5 = new OcrPipeline(f.Cpu, new OcrOptions { RecognitionOnly = true, BeamWidth = 5 }, f.Rec, null, ownsModels: false);
        var l1 = Assert.Single(p1.Run(img).Lines);
        var l5 = Assert.Single(p5.Run(img).Lines);
        Assert.Equal(greedy, new RecognizedText(l1.Text, l1.Confidence));
        Assert.Equal(text, l5.Text);
        Assert.Equal(l1.Confidence, l5.Confidence, 5);
    }
}
