namespace Tessera.Formats.Tokenizers;

/// <summary>A BERT WordPiece tokenizer from a <c>vocab.txt</c> (one token a line, the line number its id), as
/// transformers' BertTokenizer reads it: "##" marks a piece that continues a word, [PAD] [UNK] [CLS] [SEP] [MASK] are
/// the special tokens, and encoding adds [CLS] ... [SEP].</summary>
public static class WordPieceVocabText
{
    private static readonly string[] Specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    /// <summary>Reads a vocab.txt file.</summary>
    public static Tokenizer Load(string path, bool lowercase = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new TokenizerException($"{path}: no such vocabulary file");
        return Parse(File.ReadAllText(path), path, lowercase);
    }

    /// <summary>Reads vocab.txt's text (\n or \r\n line ends); <paramref name="source"/> names it in errors.
    /// <paramref name="lowercase"/>: uncased models (lower case, accents stripped), as do_lower_case.</summary>
    public static Tokenizer Parse(string text, string source = "vocab.txt", bool lowercase = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var texts = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (texts.Count > 0 && texts[^1].Length == 0) texts.RemoveAt(texts.Count - 1);
        if (texts.Count == 0) throw new TokenizerException($"{source}: the vocabulary is empty");
        int Id(string s) => texts.IndexOf(s);
        foreach (var s in new[] { "[UNK]", "[CLS]", "[SEP]" })
            if (Id(s) < 0) throw new TokenizerException($"{source}: the vocabulary has no {s} token");
        var attrs = texts.Select(t => Specials.Contains(t) ? TokenAttr.Control : TokenAttr.Normal).ToArray();
        var v = new Vocabulary
        {
            Kind = TokenizerKind.WordPiece, Pre = "",
            Texts = [.. texts.Select(t => Specials.Contains(t) || (t.StartsWith('[') && t.EndsWith(']')) ? t
                : t.StartsWith("##", StringComparison.Ordinal) ? t[2..] : "▁" + t).Select(ByteStrings.FromText)],
            Scores = new float[texts.Count], Attrs = attrs,
        };
        ModelDefaults.Apply(v, source);
        v.Unk = Id("[UNK]"); v.Bos = Id("[CLS]"); v.Sep = Id("[SEP]"); v.Pad = Id("[PAD]"); v.Mask = Id("[MASK]");
        v.Lowercase = lowercase;
        v.StripAccents = lowercase;
        v.Complete(source);
        return Tokenizer.FromVocabulary(v);
    }
}
