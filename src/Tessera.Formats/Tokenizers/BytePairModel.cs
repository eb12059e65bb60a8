namespace Tessera.Formats.Tokenizers;

/// <summary>Byte-level BPE as llama.cpp runs it (<c>llm_tokenizer_bpe_session</c>): the pre-tokenizer splits the text
/// into byte-level encoded words; in each word, starting from characters, the adjacent pair with the lowest merge rank
/// is merged (leftmost on ties) until no pair has a rank. Llama 3 (ignore_merges) takes a whole word that is a token as
/// it is. A final symbol that is not a token is emitted byte by byte.</summary>
internal sealed class BytePairModel(Vocabulary vocab)
{
    private readonly record struct Bigram(int Left, int Right, int Rank, string Text);

    private sealed class Order : IComparer<Bigram>
    {
        public static readonly Order Instance = new();
        public int Compare(Bigram a, Bigram b) => a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : a.Left.CompareTo(b.Left);
    }

    /// <summary>Appends the ids of <paramref name="text"/> (a UTF-8 byte string).</summary>
    public void Encode(string text, List<int> output)
    {
        foreach (string word in PreTokenizer.Split(vocab.Pre, text))
        {
            if (vocab.IgnoreMerges && vocab.Find(word) is int whole && whole >= 0) { output.Add(whole); continue; }
            EncodeWord(word, output);
        }
    }

    private void EncodeWord(string word, List<int> output)
    {
        var symbols = SymbolList.OfCharacters(word);
        var queue = new PriorityQueue<Bigram, Bigram>(Order.Instance);
        void TryAdd(int left, int right)
        {
            if (left < 0 || right < 0) return;
            string l = word.Substring(symbols[left].Start, symbols[left].Length);
            string r = word.Substring(symbols[right].Start, symbols[right].Length);
            int rank = vocab.MergeRank(l, r);
            if (rank < 0) return;
            var b = new Bigram(left, right, rank, l + r);
            queue.Enqueue(b, b);
        }
        for (int i = 1; i < symbols.Count; i++) TryAdd(i - 1, i);
        while (queue.TryDequeue(out var b, out _))
        {
            var l = symbols[b.Left];
            var r = symbols[b.Right];
            if (l.Length == 0 || r.Length == 0) continue;
            // Stale when either side has changed since the pair was queued.
            if (l.Length + r.Length != b.Text.Length || l.Next != b.Right
                || !word.AsSpan(l.Start, l.Length + r.Length).SequenceEqual(b.Text)) continue;
            SymbolList.Merge(symbols, b.Left, b.Right);
            TryAdd(symbols[b.Left].Prev, b.Left);
            TryAdd(b.Left, symbols[b.Left].Next);
        }
        for (int i = 0; i < symbols.Count; i++)
        {
            var s = symbols[i];
            if (s.Length == 0) continue;
            var span = word.AsSpan(s.Start, s.Length);
            int id = vocab.Find(span);
            if (id >= 0) { output.Add(id); continue; }
            foreach (char c in span)
            {
                int b = vocab.Find(c.ToString());
                if (b >= 0) output.Add(b);
            }
        }
    }
}
