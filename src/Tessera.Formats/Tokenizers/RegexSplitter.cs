using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Formats.Tokenizers;

/// <summary>Applies pre-tokenizer regexes the way llama.cpp's <c>unicode_regex_split</c> does, so that the pieces are
/// the same as its own: GPT-2's and Llama 3's patterns by hand-written scanners (<see cref="WordScanners"/>); a pattern
/// with <c>\p{..}</c> classes on a "collapsed" text where every non-ASCII codepoint becomes one stand-in character per
/// category (its C++ std::regex knows no Unicode classes, and this is how it matches them); other patterns on the text
/// itself, with non-ASCII whitespace read as a vertical tab, as its std::wregex sees it.</summary>
internal static class RegexSplitter
{
    private const char CollapsedWhitespace = '\x0B';
    private static readonly Dictionary<string, (char StandIn, string Ascii)> Categories = new(StringComparer.Ordinal)
    {
        [@"\p{N}"] = ('\xD1', "0-9"),
        [@"\p{L}"] = ('\xD2', "A-Za-z"), [@"\p{Lu}"] = ('\xD2', "A-Za-z"), [@"\p{Ll}"] = ('\xD2', "A-Za-z"),
        [@"\p{Lt}"] = ('\xD2', "A-Za-z"), [@"\p{Lm}"] = ('\xD2', "A-Za-z"), [@"\p{Lo}"] = ('\xD2', "A-Za-z"),
        [@"\p{P}"] = ('\xD3', @"!-#%-*,-/:-;?-@\[-\]_\{\}"),
        [@"\p{M}"] = ('\xD4', ""),
        [@"\p{S}"] = ('\xD5', @"\$\+<->\^`\|"),
    };

    private static readonly Dictionary<string, Regex> Compiled = [];

    /// <summary>Piece lengths, in codepoints, of <paramref name="cps"/> split by each regex in turn.</summary>
    public static List<int> Split(List<int> cps, IReadOnlyList<string> regexes)
    {
        var lengths = new List<int> { cps.Count };
        if (cps.Count == 0) return [];
        string? collapsed = null, wide = null;
        int[]? wideIndex = null;
        foreach (string pattern in regexes)
        {
            if (pattern == PreTokenizer.Gpt2) { lengths = WordScanners.Gpt2(cps, lengths); continue; }
            if (pattern == PreTokenizer.Llama3) { lengths = WordScanners.Llama3(cps, lengths); continue; }
            if (Categories.Keys.Any(pattern.Contains))
            {
                collapsed ??= Collapse(cps);
                lengths = SplitByRegex(collapsed, null, lengths, Get(pattern, collapse: true));
            }
            else
            {
                if (wide is null) (wide, wideIndex) = Widen(cps);
                lengths = SplitByRegex(wide, wideIndex, lengths, Get(pattern, collapse: false));
            }
        }
        return lengths;
    }

    private static Regex Get(string pattern, bool collapse)
    {
        lock (Compiled)
        {
            if (Compiled.TryGetValue(pattern, out var r)) return r;
            string translated = collapse ? CollapsePattern(pattern) : WidenPattern(pattern);
            r = new Regex(translated, RegexOptions.ECMAScript | RegexOptions.CultureInvariant);
            Compiled[pattern] = r;
            return r;
        }
    }

    /// <summary>Runs the regex over each piece on its own: matches and the gaps between them become pieces.
    /// <paramref name="index"/> maps a UTF-16 position of <paramref name="text"/> to a codepoint position (null when
    /// they are the same).</summary>
    private static List<int> SplitByRegex(string text, int[]? index, List<int> lengths, Regex regex)
    {
        var result = new List<int>(lengths.Count * 2);
        int start = 0;
        foreach (int len in lengths)
        {
            int from = Utf16Of(index, start, text.Length), to = Utf16Of(index, start + len, text.Length);
            string piece = text.Substring(from, to - from);
            int prev = 0;
            for (var m = regex.Match(piece); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0) continue;
                if (m.Index > prev) result.Add(Cps(index, from, prev, m.Index));
                result.Add(Cps(index, from, m.Index, m.Index + m.Length));
                prev = m.Index + m.Length;
            }
            if (prev < piece.Length) result.Add(Cps(index, from, prev, piece.Length));
            start += len;
        }
        return result;
    }

    private static int Utf16Of(int[]? index, int cp, int textLength)
    {
        if (index is null) return cp;
        int pos = Array.BinarySearch(index, cp);
        return pos >= 0 ? FirstOf(index, pos) : textLength;
    }

    private static int FirstOf(int[] index, int pos) { while (pos > 0 && index[pos - 1] == index[pos]) pos--; return pos; }

    private static int Cps(int[]? index, int from, int a, int b) =>
        index is null ? b - a : CpAt(index, from + b) - CpAt(index, from + a);

    private static int CpAt(int[] index, int utf16) => utf16 < index.Length ? index[utf16] : index[^1] + 1;

    private static string Collapse(List<int> cps)
    {
        var chars = new char[cps.Count];
        for (int i = 0; i < cps.Count; i++)
        {
            int cp = cps[i];
            if (cp < 128) { chars[i] = (char)cp; continue; }
            var f = Codepoints.Flags(cp);
            chars[i] = f.IsWhitespace() ? CollapsedWhitespace
                : (f & ~CodepointFlags.Whitespace) switch
                {
                    CodepointFlags.Number => '\xD1',
                    CodepointFlags.Letter => '\xD2',
                    CodepointFlags.Punctuation => '\xD3',
                    CodepointFlags.AccentMark => '\xD4',
                    CodepointFlags.Symbol => '\xD5',
                    _ => '\xD0',
                };
        }
        return new string(chars);
    }

    /// <summary>The text as UTF-16 with non-ASCII whitespace as a vertical tab, and each UTF-16 unit's codepoint index.</summary>
    private static (string, int[]) Widen(List<int> cps)
    {
        var sb = new StringBuilder(cps.Count);
        var index = new List<int>(cps.Count);
        for (int i = 0; i < cps.Count; i++)
        {
            int cp = cps[i];
            if (cp > 0x7F && Codepoints.IsWhitespace(cp)) cp = CollapsedWhitespace;
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            int before = sb.Length;
            sb.Append(char.ConvertFromUtf32(cp));
            for (int k = before; k < sb.Length; k++) index.Add(i);
        }
        return (sb.ToString(), [.. index]);
    }

    /// <summary>Replaces each <c>\p{..}</c> class by its stand-in character plus its ASCII members, as llama.cpp does.</summary>
    private static string CollapsePattern(string pattern)
    {
        var sb = new StringBuilder(pattern.Length * 2);
        bool inside = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '[' && (i == 0 || pattern[i - 1] != '\\')) { sb.Append('['); inside = true; continue; }
            if (inside && c == ']' && pattern[i - 1] != '\\') { sb.Append(']'); inside = false; continue; }
            if (c == '\\' && i + 3 < pattern.Length && pattern[i + 1] == 'p' && pattern[i + 2] == '{')
            {
                int close = pattern.IndexOf('}', i + 3);
                if (close >= 0 && close <= i + 10 && Categories.TryGetValue(pattern[i..(close + 1)], out var cat))
                {
                    if (!inside) sb.Append('[');
                    sb.Append(cat.StandIn).Append(cat.Ascii);
                    if (!inside) sb.Append(']');
                    i = close;
                    continue;
                }
            }
            sb.Append(c);
        }
        return AnchorEnd(sb.ToString());
    }

    /// <summary>A pattern for UTF-16 text: character classes holding codepoints past U+FFFF become alternations of
    /// surrogate pairs (a .NET class holds UTF-16 units only).</summary>
    private static string WidenPattern(string pattern)
    {
        var sb = new StringBuilder(pattern.Length);
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length) { sb.Append(c).Append(pattern[++i]); continue; }
            if (c != '[') { sb.Append(c); continue; }
            int end = i + 1;
            while (end < pattern.Length && (pattern[end] != ']' || pattern[end - 1] == '\\')) end++;
            string body = pattern[(i + 1)..end];
            i = end;
            if (!body.Any(char.IsSurrogate)) { sb.Append('[').Append(body).Append(']'); continue; }
            var bmp = new StringBuilder();
            var astral = new List<string>();
            var items = new List<int>();
            for (int k = 0; k < body.Length; k += char.IsSurrogatePair(body, k) ? 2 : 1)
                items.Add(char.IsSurrogatePair(body, k) ? char.ConvertToUtf32(body, k) : body[k]);
            for (int k = 0; k < items.Count; k++)
            {
                bool range = k + 2 < items.Count && items[k + 1] == '-';
                int lo = items[k], hi = range ? items[k + 2] : lo;
                if (range) k += 2;
                if (hi < 0x10000) { bmp.Append(char.ConvertFromUtf32(lo)); if (range) bmp.Append('-').Append(char.ConvertFromUtf32(hi)); }
                else astral.Add(SurrogateRange(lo, hi));
            }
            sb.Append("(?:");
            if (bmp.Length > 0) sb.Append('[').Append(bmp).Append("]|");
            sb.Append(string.Join("|", astral)).Append(')');
        }
        return AnchorEnd(sb.ToString());
    }

    private static string SurrogateRange(int lo, int hi)
    {
        var parts = new List<string>();
        while (lo <= hi)
        {
            string a = char.ConvertFromUtf32(lo);
            int blockEnd = Math.Min(hi, ((lo - 0x10000) | 0x3FF) + 0x10000);
            string b = char.ConvertFromUtf32(blockEnd);
            parts.Add($"\\u{(int)a[0]:X4}[\\u{(int)a[1]:X4}-\\u{(int)b[1]:X4}]");
            lo = blockEnd + 1;
        }
        return string.Join("|", parts);
    }

    /// <summary>ECMAScript's <c>$</c> is the end of the input only; .NET's also matches before a final newline.</summary>
    private static string AnchorEnd(string pattern)
    {
        var sb = new StringBuilder(pattern.Length);
        bool inside = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length) { sb.Append(c).Append(pattern[++i]); continue; }
            if (c == '[') inside = true; else if (c == ']') inside = false;
            sb.Append(!inside && c == '$' ? @"(?!.|\n)" : c.ToString());
        }
        return sb.ToString();
    }
}
