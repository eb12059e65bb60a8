using System.Globalization;
using System.Text;

namespace Tessera.Formats.Tokenizers;

/// <summary>The text clean-up of transformers' CLIPTokenizer where ftfy is not installed (its BasicTokenizer with
/// strip_accents=False and no punctuation split), then CLIP's pre-tokenizer pattern. Cleaning drops NUL, U+FFFD and
/// every "C*" category character except tab and line ends, maps whitespace to spaces, puts spaces around CJK
/// ideographs, splits on whitespace and lower-cases each word as Python's <c>str.lower</c> does (full mappings: "İ"
/// becomes "i̇", a final capital sigma "ς").</summary>
internal static class ClipTextNormalizer
{
    /// <summary>The words of <paramref name="text"/> after cleaning, NFC and lower-casing.</summary>
    public static List<string> Words(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) { sb.Append(' '); continue; }
            if (IsCjk(cp)) { sb.Append(' ').Append(rune.ToString()).Append(' '); continue; }
            sb.Append(rune.ToString());
        }
        // transformers' BasicTokenizer composes (NFC) before it splits and lower-cases.
        var words = new List<string>();
        foreach (var w in sb.ToString().Normalize(NormalizationForm.FormC).Split([' ', '\u2028', '\u2029', '\t', '\n', '\r', '\v', '\f'], StringSplitOptions.RemoveEmptyEntries))
            words.Add(PythonLower(w));
        return words;
    }

    /// <summary>CLIP's pattern <c>&lt;|startoftext|&gt;|&lt;|endoftext|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
    /// (case-insensitive), by code point (so letters outside the BMP are letters).</summary>
    public static IEnumerable<string> Pieces(string word)
    {
        var runes = word.EnumerateRunes().ToArray();
        int i = 0;
        while (i < runes.Length)
        {
            string rest = string.Concat(runes.Skip(i).Take(16).Select(r => r.ToString()));
            string? special = new[] { "<|startoftext|>", "<|endoftext|>" }.FirstOrDefault(s => rest.StartsWith(s, StringComparison.OrdinalIgnoreCase));
            if (special is not null) { yield return rest[..special.Length]; i += special.EnumerateRunes().Count(); continue; }
            if (runes[i].Value == '\'')
            {
                string? c = new[] { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" }.FirstOrDefault(s => rest.StartsWith(s, StringComparison.OrdinalIgnoreCase));
                if (c is not null) { yield return rest[..c.Length]; i += c.Length; continue; }
            }
            int start = i;
            if (Rune.IsWhiteSpace(runes[i])) { i++; continue; }
            if (Rune.IsLetter(runes[i])) while (i < runes.Length && Rune.IsLetter(runes[i])) i++;
            else if (Rune.IsNumber(runes[i])) i++;
            else while (i < runes.Length && !Rune.IsLetter(runes[i]) && !Rune.IsNumber(runes[i]) && !Rune.IsWhiteSpace(runes[i])) i++;
            yield return string.Concat(runes[start..i].Select(r => r.ToString()));
        }
    }

    private static bool IsControl(Rune r) => r.Value is not ('\t' or '\n' or '\r')
        && Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    private static bool IsWhitespace(Rune r) => r.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    private static bool IsCjk(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);

    // Python's str.lower: the simple mappings plus U+0130's two-code-point one and the final-sigma rule.
    private static string PythonLower(string w)
    {
        var runes = w.EnumerateRunes().ToArray();
        var sb = new StringBuilder(w.Length);
        for (int i = 0; i < runes.Length; i++)
        {
            var r = runes[i];
            if (r.Value == 0x130) { sb.Append("i\u0307"); continue; }
            if (r.Value == 0x3A3) { sb.Append(FinalSigma(runes, i) ? 'ς' : 'σ'); continue; }
            sb.Append(Rune.ToLowerInvariant(r).ToString());
        }
        return sb.ToString();
    }

    // CPython's handle_capital_sigma: a cased letter before (skipping case-ignorables) and none after.
    private static bool FinalSigma(Rune[] runes, int at)
    {
        int j = at - 1;
        while (j >= 0 && CaseIgnorable(runes[j])) j--;
        if (j < 0 || !Cased(runes[j])) return false;
        j = at + 1;
        while (j < runes.Length && CaseIgnorable(runes[j])) j++;
        return j == runes.Length || !Cased(runes[j]);
    }

    private static bool Cased(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;

    private static bool CaseIgnorable(Rune r) =>
        r.Value is '\'' or '.' or ':' or '^' or '`' or 0xB7 or 0x2019 or 0x2018 or 0x2024 or 0xAD
        || Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
}
