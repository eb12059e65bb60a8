namespace Tessera.Models.Ocr;

/// <summary>One line decoded by <see cref="CtcBeamSearch"/>.</summary>
/// <param name="Labels">The class indices of the decoded text (no blanks).</param>
/// <param name="LogProb">The natural log of the labelling's exact CTC probability: the sum over every alignment
/// that collapses to it, computed by the forward algorithm on the unpruned probabilities.</param>
/// <param name="Confidence">The greedy decoder's measure on the labelling's most probable alignment: the mean
/// probability at the steps where each character starts; 0 for an empty labelling.</param>
internal readonly record struct CtcBeamResult(int[] Labels, double LogProb, float Confidence);

/// <summary>CTC prefix beam search (Hannun et al. 2014, "First-pass large vocabulary continuous speech recognition
/// using bi-directional recurrent DNNs", as PaddleOCR's and pyctcdecode's decoders do it without a language model)
/// over per-step class probabilities, class 0 the blank.
///
/// <para>Each beam entry is a prefix with two log probabilities: of the alignments so far that collapse to it and end
/// in a blank (pb), and that end in its last character (pnb). A step extends each prefix by the blank (stays, into
/// pb), by its last character (stays, into pnb; a new copy of it needs a blank in between, so it extends only from
/// pb), and by any other character c (the prefix + c, from pb and pnb). The <c>beamWidth</c> prefixes of highest
/// pb + pnb survive. Prefixes are nodes of a trie, so extending one is a dictionary look-up, not a string copy.</para>
///
/// <para>For speed with thousands of classes, each step considers only the blank and at most <c>topK</c> other
/// classes whose probability is at least <c>minProb</c>; with <c>topK</c> = classes and <c>minProb</c> = 0 the
/// search is exact for a beam wide enough to hold every prefix.</para>
///
/// <para>The confidence is kept comparable with the greedy decoder's (PaddleOCR's mean of the kept steps' maxima,
/// which <see cref="OcrOptions.DropScore"/> thresholds): it is the same mean, taken on the decoded labelling's most
/// probable alignment (Viterbi). When the labelling is the greedy one, that alignment is the greedy path, so both
/// decoders report the same number.</para></summary>
internal static class CtcBeamSearch
{
    /// <summary>Candidate classes per step besides the blank, by default.</summary>
    public const int DefaultTopK = 16;

    /// <summary>Classes below this probability at a step are not tried there, by default.</summary>
    public const float DefaultMinProb = 1e-4f;

    /// <summary>Decodes probabilities [B, T, classes] with <paramref name="characters"/> (class 0 the blank).</summary>
    public static RecognizedText[] Decode(Tensor probs, IReadOnlyList<string> characters, int beamWidth,
        int topK = DefaultTopK, float minProb = DefaultMinProb)
    {
        if (probs.Rank != 3 || probs.Shape[2] != characters.Count)
            throw new TesseraException($"CTC beam search needs probabilities [B, T, {characters.Count}], got {probs.Shape}");
        return DecodeAligned(probs, characters, beamWidth, topK, minProb).Select(a => a.ToRecognizedText()).ToArray();
    }

    /// <summary>As <see cref="Decode"/>, with each character's frames on the decoded labelling's most probable
    /// alignment (Viterbi).</summary>
    public static AlignedText[] DecodeAligned(Tensor probs, IReadOnlyList<string> characters, int beamWidth,
        int topK = DefaultTopK, float minProb = DefaultMinProb)
    {
        if (probs.Rank != 3 || probs.Shape[2] != characters.Count)
            throw new TesseraException($"CTC beam search needs probabilities [B, T, {characters.Count}], got {probs.Shape}");
        int b = probs.Shape[0], t = probs.Shape[1], k = probs.Shape[2];
        var p = probs.ToFloatArray();
        var result = new AlignedText[b];
        for (int i = 0; i < b; i++)
        {
            var line = p.AsSpan(i * t * k, t * k);
            var r = DecodeLine(line, t, k, beamWidth, topK, minProb);
            var chars = new CtcChar[r.Labels.Length];
            Align(line, t, k, r.Labels, chars);
            result[i] = new AlignedText(string.Concat(r.Labels.Select(c => characters[c])), r.Confidence, chars, t);
        }
        return result;
    }

    /// <summary>Decodes one line: <paramref name="probs"/> holds <paramref name="steps"/> rows of
    /// <paramref name="classes"/> probabilities.</summary>
    public static CtcBeamResult DecodeLine(ReadOnlySpan<float> probs, int steps, int classes, int beamWidth,
        int topK = DefaultTopK, float minProb = DefaultMinProb)
    {
        if (beamWidth < 1) throw new TesseraException($"CTC beam search: the beam width must be at least 1, got {beamWidth}");
        if (topK < 1) throw new TesseraException($"CTC beam search: topK must be at least 1, got {topK}");
        if (classes < 1 || steps < 0 || probs.Length != (long)steps * classes)
            throw new TesseraException($"CTC beam search: {probs.Length} probabilities do not make {steps} steps of {classes} classes");

        var trie = new PrefixTrie();
        var beam = new List<Entry> { new(PrefixTrie.Root, 0, double.NegativeInfinity) };
        var next = new Dictionary<int, int>();           // prefix node -> index in nextEntries
        var nextEntries = new List<Entry>();
        var cands = new List<int>(Math.Min(topK, classes));
        for (int s = 0; s < steps; s++)
        {
            var row = probs.Slice(s * classes, classes);
            Candidates(row, topK, minProb, cands);
            double lpBlank = Math.Log(row[0]);
            next.Clear();
            nextEntries.Clear();
            void Add(int node, double pb, double pnb)
            {
                if (next.TryGetValue(node, out int at))
                {
                    var e = nextEntries[at];
                    nextEntries[at] = e with { Pb = LogAdd(e.Pb, pb), Pnb = LogAdd(e.Pnb, pnb) };
                }
                else
                {
                    next[node] = nextEntries.Count;
                    nextEntries.Add(new Entry(node, pb, pnb));
                }
            }
            foreach (var e in beam)
            {
                double total = LogAdd(e.Pb, e.Pnb);
                Add(e.Node, total + lpBlank, double.NegativeInfinity);
                int last = trie.Label(e.Node);
                foreach (int c in cands)
                {
                    double lp = Math.Log(row[c]);
                    if (c == last)
                    {
                        Add(e.Node, double.NegativeInfinity, e.Pnb + lp);                    // "aa" -> "a"
                        Add(trie.Extend(e.Node, c), double.NegativeInfinity, e.Pb + lp);    // "a-a" -> "aa"
                    }
                    else Add(trie.Extend(e.Node, c), double.NegativeInfinity, total + lp);
                }
            }
            // Highest total first; the older (smaller) node first on ties, so the result does not depend on hashing.
            nextEntries.Sort((x, y) =>
            {
                int byProb = LogAdd(y.Pb, y.Pnb).CompareTo(LogAdd(x.Pb, x.Pnb));
                return byProb != 0 ? byProb : x.Node.CompareTo(y.Node);
            });
            beam.Clear();
            for (int i = 0; i < Math.Min(beamWidth, nextEntries.Count); i++) beam.Add(nextEntries[i]);
        }
        var labels = trie.Labels(beam[0].Node);
        var (logProb, confidence) = Align(probs, steps, classes, labels);
        return new CtcBeamResult(labels, logProb, confidence);
    }

    /// <summary>The exact log probability of <paramref name="labels"/> (forward algorithm) and the confidence on its
    /// most probable alignment (Viterbi, the earlier state on ties); (-inf, 0) if no alignment fits.</summary>
    internal static (double LogProb, float Confidence) Align(ReadOnlySpan<float> probs, int steps, int classes, int[] labels,
        CtcChar[]? chars = null)
    {
        // Extended labels: blank, l1, blank, l2, ..., blank; state s is a character when odd.
        int n = 2 * labels.Length + 1;
        int Ext(int s) => (s & 1) == 0 ? 0 : labels[s >> 1];
        if (steps == 0) return (labels.Length == 0 ? 0 : double.NegativeInfinity, 0f);
        var alpha = new double[n];
        var best = new double[n];
        var prevAlpha = new double[n];
        var prevBest = new double[n];
        var back = new byte[steps * n];                     // how many states back each Viterbi step came from
        Array.Fill(alpha, double.NegativeInfinity);
        Array.Fill(best, double.NegativeInfinity);
        alpha[0] = best[0] = Math.Log(probs[0]);
        if (n > 1) alpha[1] = best[1] = Math.Log(probs[Ext(1)]);
        for (int t = 1; t < steps; t++)
        {
            (alpha, prevAlpha) = (prevAlpha, alpha);
            (best, prevBest) = (prevBest, best);
            for (int s = 0; s < n; s++)
            {
                double a = prevAlpha[s], v = prevBest[s];
                byte from = 0;
                if (s >= 1)
                {
                    a = LogAdd(a, prevAlpha[s - 1]);
                    if (prevBest[s - 1] > v) { v = prevBest[s - 1]; from = 1; }
                }
                // A character may follow the previous character directly unless it repeats it.
                if (s >= 2 && (s & 1) == 1 && Ext(s) != Ext(s - 2))
                {
                    a = LogAdd(a, prevAlpha[s - 2]);
                    if (prevBest[s - 2] > v) { v = prevBest[s - 2]; from = 2; }
                }
                double lp = Math.Log(probs[t * classes + Ext(s)]);
                alpha[s] = a + lp;
                best[s] = v + lp;
                back[t * n + s] = from;
            }
        }
        // An alignment ends in the last character or in the blank after it.
        double logProb = n > 1 ? LogAdd(alpha[n - 1], alpha[n - 2]) : alpha[0];
        int state = n > 1 && best[n - 2] > best[n - 1] ? n - 2 : n - 1;
        if (labels.Length == 0 || double.IsNegativeInfinity(best[state])) return (logProb, 0f);
        // Walk the best alignment back; a character starts at t when its state is entered there.
        // With chars, each character's frames and start probability are recorded on the way.
        double sum = 0;
        for (int t = steps - 1; t >= 0; t--)
        {
            int prev = t > 0 ? state - back[t * n + state] : -1;
            if ((state & 1) == 1)
            {
                float pr = probs[t * classes + Ext(state)];
                if (chars is not null)
                {
                    int c = state >> 1;
                    chars[c] = chars[c].Label == 0 && chars[c].LastFrame == 0
                        ? new CtcChar(labels[c], t, t, pr)
                        : chars[c] with { FirstFrame = t, Probability = pr };
                }
                if (prev != state) sum += pr;
            }
            state = prev;
        }
        return (logProb, (float)(sum / labels.Length));
    }

    // The classes tried at one step besides the blank: the topK most probable non-blank classes of at least minProb,
    // most probable first.
    private static void Candidates(ReadOnlySpan<float> row, int topK, float minProb, List<int> cands)
    {
        cands.Clear();
        for (int c = 1; c < row.Length; c++)
        {
            float v = row[c];
            if (v < minProb || v <= 0 || (cands.Count == topK && v <= row[cands[^1]])) continue;
            int at = cands.Count;
            while (at > 0 && row[cands[at - 1]] < v) at--;
            if (cands.Count == topK) cands.RemoveAt(cands.Count - 1);
            cands.Insert(Math.Min(at, cands.Count), c);
        }
    }

    private static double LogAdd(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        return a > b ? a + Math.Log(1 + Math.Exp(b - a)) : b + Math.Log(1 + Math.Exp(a - b));
    }

    private readonly record struct Entry(int Node, double Pb, double Pnb);

    // Prefixes as a trie: node 0 is the empty prefix; each other node is its parent's prefix plus one label.
    private sealed class PrefixTrie
    {
        public const int Root = 0;
        private readonly List<int> _parent = [-1];
        private readonly List<int> _label = [-1];
        private readonly Dictionary<long, int> _children = new();

        public int Label(int node) => _label[node];

        public int Extend(int node, int label)
        {
            long key = ((long)node << 32) | (uint)label;
            if (_children.TryGetValue(key, out int child)) return child;
            child = _parent.Count;
            _parent.Add(node);
            _label.Add(label);
            _children[key] = child;
            return child;
        }

        public int[] Labels(int node)
        {
            var labels = new List<int>();
            for (; node != Root; node = _parent[node]) labels.Add(_label[node]);
            labels.Reverse();
            return labels.ToArray();
        }
    }
}
