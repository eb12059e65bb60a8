namespace Tessera.Formats.Tokenizers;

/// <summary>SentencePiece-style BPE as llama.cpp runs it (<c>llm_tokenizer_spm_session</c>): start from UTF-8
/// characters, repeatedly merge the adjacent pair whose joined text is the token with the highest score (leftmost on
/// ties), then emit each symbol as its token, or as the tokens it was merged from, or as byte tokens
/// <c>&lt;0xXX&gt;</c> when it is not in the vocabulary.</summary>
internal sealed class SentencePieceModel(Vocabulary vocab)
{
    private readonly record struct Bigram(int Left, int Right, float Score, int Size);

    private sealed class Order : IComparer<Bigram>
    {
        public static readonly Order Instance = new();
        // Highest score first, then leftmost.
        public int Compare(Bigram a, Bigram b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left);
    }

    /// <summary>Appends the ids of <paramref name="text"/> (a byte string, whitespace already escaped).</summary>
    public void Encode(string text, List<int> output)
    {
        if (text.Length == 0) return;
        var symbols = SymbolList.OfCharacters(text);
        var queue = new PriorityQueue<Bigram, Bigram>(Order.Instance);
        var sources = new Dictionary<string, (int Left, int Right)>(StringComparer.Ordinal);

        void TryAdd(int left, int right)
        {
            if (left < 0 || right < 0) return;
            var span = text.AsSpan(symbols[left].Start, symbols[left].Length + symbols[right].Length);
            int id = vocab.Find(span);
            if (id < 0) return;
            var b = new Bigram(left, right, vocab.Scores[id], span.Length);
            queue.Enqueue(b, b);
            sources[span.ToString()] = (left, right);
        }

        for (int i = 1; i < symbols.Count; i++) TryAdd(i - 1, i);
        while (queue.TryDequeue(out var b, out _))
        {
            var l = symbols[b.Left];
            var r = symbols[b.Right];
            if (l.Length == 0 || r.Length == 0 || l.Length + r.Length != b.Size) continue;
            SymbolList.Merge(symbols, b.Left, b.Right);
            TryAdd(symbols[b.Left].Prev, b.Left);
            TryAdd(b.Left, symbols[b.Left].Next);
        }
        for (int i = 0; i != -1; i = symbols[i].Next) Resegment(text, symbols, i, sources, output);
    }

    private void Resegment(string text, List<Symbol> symbols, int index, Dictionary<string, (int Left, int Right)> sources, List<int> output)
    {
        var s = symbols[index];
        var span = text.AsSpan(s.Start, s.Length);
        int id = vocab.Find(span);
        if (id >= 0) { output.Add(id); return; }
        if (sources.TryGetValue(span.ToString(), out var parts))
        {
            Resegment(text, symbols, parts.Left, sources, output);
            Resegment(text, symbols, parts.Right, sources, output);
            return;
        }
        foreach (char b in span) output.Add(ByteToken(vocab, (byte)b));
    }

    /// <summary>The byte-fallback token of one byte: <c>&lt;0xXX&gt;</c>, else the one-byte token.</summary>
    public static int ByteToken(Vocabulary vocab, byte b)
    {
        int id = vocab.Find($"<0x{b:X2}>");
        if (id >= 0) return id;
        id = vocab.Find(((char)b).ToString());
        return id >= 0 ? id : throw new TokenizerException($"the vocabulary has no token for byte 0x{b:X2} (neither <0x{b:X2}> nor the byte itself)");
    }
}
