using System.Text;

namespace Tessera.Formats.Tokenizers;

/// <summary>BERT's WordPiece as llama.cpp runs it (<c>llm_tokenizer_wpm_session</c>): normalize (lower case, accents
/// stripped through the first codepoint of NFD), split on whitespace and around punctuation, ASCII symbols and CJK
/// ideographs, then match each word greedily, longest first, against the vocabulary, whose word-initial pieces carry
/// "▁" (GGUF's convention in place of "##" on the others). A word with an unmatched part becomes [UNK].</summary>
internal sealed class WordPieceModel(Vocabulary vocab)
{
    private const string Phantom = "\xE2\x96\x81"; // "▁" as UTF-8 bytes

    /// <summary>Appends the ids of <paramref name="text"/> (a UTF-8 byte string).</summary>
    public void Encode(string text, List<int> output)
    {
        foreach (string word in Words(text))
        {
            if (word.Length == 0) continue;
            string w = Phantom + word;
            int n = w.Length, before = output.Count;
            for (int i = 0; i < n; i++)
            {
                bool match = false;
                for (int j = Math.Min(n, i + vocab.MaxTokenLength + 1); j > i; j--)
                {
                    int id = vocab.Find(w.AsSpan(i, j - i));
                    if (id < 0) continue;
                    output.Add(id);
                    match = true;
                    i = j - 1;
                    break;
                }
                if (!match) { output.RemoveRange(before, output.Count - before); break; }
            }
            if (output.Count == before) output.Add(vocab.Unk);
        }
    }

    private List<string> Words(string text)
    {
        var words = new List<string> { "" };
        var current = new StringBuilder();
        void Finish() { if (current.Length > 0) { words[^1] = current.ToString(); current.Clear(); words.Add(""); } }
        foreach (int raw in ByteStrings.Codepoints(text))
        {
            int cp = vocab.StripAccents ? Codepoints.NfdFirst(raw) : raw;
            var f = Codepoints.Flags(cp);
            if (f.IsWhitespace()) { Finish(); continue; }
            if (cp == 0 || cp == 0xFFFD || (f & CodepointFlags.Control) != 0) continue;
            if (vocab.StripAccents && (f & CodepointFlags.AccentMark) != 0) continue;
            int c = vocab.Lowercase ? Codepoints.ToLower(cp) : cp;
            if ((f & CodepointFlags.Punctuation) != 0 || (cp < 0x7F && (f & CodepointFlags.Symbol) != 0) || IsChinese(cp))
            {
                Finish();
                ByteStrings.AppendUtf8(current, c);
                Finish();
            }
            else ByteStrings.AppendUtf8(current, c);
        }
        Finish();
        if (words[^1].Length == 0) words.RemoveAt(words.Count - 1);
        return words;
    }

    private static bool IsChinese(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
        || (cp >= 0x2B920 && cp <= 0x2CEAF) // HF's Rust code starts this block at 0x2B920; llama.cpp follows it
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
