namespace Tessera.Formats.Tokenizers;

/// <summary>SentencePiece's unigram language model (Kudo 2018) encoder: the segmentation of a normalised string whose
/// pieces' log probabilities (the model's scores) sum highest, found by Viterbi over every vocabulary piece that starts
/// at each position. A character no piece covers on its own becomes the unknown piece at the lowest score minus 10
/// (SentencePiece's kUnkPenalty); consecutive unknown characters give one unknown token, as SentencePiece and
/// Hugging Face's Unigram (fuse_unk) emit them. Control and unused pieces never match text.</summary>
internal sealed class UnigramModel
{
    private const float UnkPenalty = 10;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly float[] _scores;
    private readonly int _maxLength, _unk;
    private readonly float _unkScore;

    /// <summary>A model over pieces (text, score, whether it can match text) with the unknown piece's id.</summary>
    public UnigramModel(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<bool> matchable, int unk)
    {
        if (unk < 0 || unk >= pieces.Count) throw new TokenizerException($"unigram model: unknown piece id {unk} is outside the {pieces.Count} pieces");
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        float min = float.MaxValue;
        for (int i = 0; i < pieces.Count; i++)
        {
            if (!matchable[i] || pieces[i].Length == 0) continue;
            ids.TryAdd(pieces[i], i);      // the first of duplicated pieces wins, as SentencePiece's map keeps it
            _maxLength = Math.Max(_maxLength, pieces[i].Length);
            min = Math.Min(min, scores[i]);
        }
        _lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _scores = [.. scores];
        _unk = unk;
        _unkScore = (min == float.MaxValue ? 0 : min) - UnkPenalty;
    }

    /// <summary>Appends the ids of the best segmentation of <paramref name="text"/> (already normalised).</summary>
    public void Encode(string text, List<int> output)
    {
        int n = text.Length;
        if (n == 0) return;
        var best = new double[n + 1];
        var from = new int[n + 1];
        var piece = new int[n + 1];
        Array.Fill(best, double.NegativeInfinity);
        best[0] = 0;
        for (int i = 0; i < n; i++)
        {
            if (double.IsNegativeInfinity(best[i])) continue;
            int single = char.IsHighSurrogate(text[i]) && i + 1 < n && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            bool coversSingle = false;
            for (int len = 1; len <= _maxLength && i + len <= n; len++)
            {
                if (!_lookup.TryGetValue(text.AsSpan(i, len), out int id)) continue;
                if (len == single) coversSingle = true;
                Relax(i, i + len, id, _scores[id]);
            }
            if (!coversSingle) Relax(i, i + single, _unk, _unkScore);
        }
        var path = new List<int>();
        for (int end = n; end > 0; end = from[end]) path.Add(piece[end]);
        path.Reverse();
        bool lastUnk = false;
        foreach (int id in path)
        {
            bool unk = id == _unk;
            if (!(unk && lastUnk)) output.Add(id);
            lastUnk = unk;
        }

        void Relax(int start, int end, int id, double score)
        {
            double s = best[start] + score;
            if (s > best[end]) (best[end], from[end], piece[end]) = (s, start, id);
        }
    }
}
