namespace Tessera.Formats.Tokenizers;

/// <summary>Everything a tokenizer needs from a vocabulary, in llama.cpp's terms (<c>llama_vocab::impl</c>): token texts
/// as UTF-8 byte strings, scores, attributes, merges, special ids and the per-model switches.</summary>
internal sealed class Vocabulary
{
    public required TokenizerKind Kind { get; init; }
    /// <summary>GGUF's <c>tokenizer.ggml.pre</c> ("" for none).</summary>
    public required string Pre { get; init; }
    /// <summary>Token texts as byte strings (see <see cref="ByteStrings"/>).</summary>
    public required string[] Texts { get; init; }
    public required float[] Scores { get; init; }
    public required TokenAttr[] Attrs { get; init; }
    /// <summary>Merge ranks keyed "left right" (byte strings).</summary>
    public Dictionary<string, int> MergeRanks { get; init; } = [];

    public int Bos { get; set; } = -1;
    public int Eos { get; set; } = -1;
    public int Eot { get; set; } = -1;
    public int Eom { get; set; } = -1;
    public int Unk { get; set; } = -1;
    public int Sep { get; set; } = -1;
    public int Pad { get; set; } = -1;
    public int Mask { get; set; } = -1;

    public bool AddBos { get; set; }
    public bool AddEos { get; set; }
    public bool AddSep { get; set; }
    public bool AddSpacePrefix { get; set; }
    public bool CleanSpaces { get; set; }
    public bool IgnoreMerges { get; set; }
    public bool EscapeWhitespaces { get; set; }
    public bool Lowercase { get; set; }
    public bool StripAccents { get; set; }
    /// <summary>The model's <c>general.name</c>, lower case (llama.cpp sets Phi-3's strip attributes by it).</summary>
    public string ModelName { get; init; } = "";

    public Dictionary<string, int> Ids { get; private set; } = [];
    public Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> IdLookup { get; private set; }
    public int MaxTokenLength { get; private set; }
    /// <summary>Control, user-defined and unknown tokens, longest text first: the order special text is split out.</summary>
    public int[] SpecialTokens { get; private set; } = [];
    public HashSet<int> EndOfGeneration { get; } = [];

    public int Count => Texts.Length;

    /// <summary>Builds the lookups and applies llama.cpp's load-time rules (control-looking tokens, EOG set, special
    /// token cache, Phi-3 strip attributes). Call once, after the properties are set.</summary>
    public void Complete(string source)
    {
        var ids = new Dictionary<string, int>(Texts.Length, StringComparer.Ordinal);
        for (int i = 0; i < Texts.Length; i++)
        {
            if (Texts[i].Length == 0) Texts[i] = $"[EMPTY_{i}]";
            if (!ids.TryAdd(Texts[i], i))
                throw new TokenizerException($"{source}: duplicate token in vocabulary: '{System.Text.Encoding.UTF8.GetString(ByteStrings.ToBytes(Texts[i]))}' has ids {ids[Texts[i]]} and {i}");
            MaxTokenLength = Math.Max(MaxTokenLength, Texts[i].Length);
        }
        Ids = ids;
        IdLookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (ref int id in new Span<int>([Bos, Eos, Eot, Eom, Unk, Sep, Pad, Mask]))
            if (id >= Count) id = -1;
        SpecialTokenRules.Apply(this);
    }

    public int Find(ReadOnlySpan<char> text) => IdLookup.TryGetValue(text, out int id) ? id : -1;

    public int MergeRank(string left, string right) => MergeRanks.TryGetValue(left + " " + right, out int r) ? r : -1;

    internal void SetSpecialTokens(int[] ids) => SpecialTokens = ids;
}
