using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Python's str methods where .NET's differ: whitespace as str.isspace, strip with a char set, split with and
/// without a separator, splitlines, title and capitalize.</summary>
internal static class PyStrings
{
    public static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r' or (>= '\x1c' and <= '\x1f')
        or '\x85' or '\xa0' or '\u1680' or (>= '\u2000' and <= '\u200a') or '\u2028' or '\u2029' or '\u202f' or '\u205f' or '\u3000';

    public static string Strip(string s, string? chars, bool left = true, bool right = true)
    {
        Func<char, bool> drop = chars is null ? IsSpace : chars.Contains;
        int a = 0, b = s.Length;
        if (left) while (a < b && drop(s[a])) a++;
        if (right) while (b > a && drop(s[b - 1])) b--;
        return s[a..b];
    }

    public static List<object?> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(Strip(s[i..], null, left: false));
                    break;
                }
                int j = i;
                while (j < s.Length && !IsSpace(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
            return parts;
        }
        if (sep.Length == 0) throw new TemplateException("split(): empty separator");
        int start = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int k = s.IndexOf(sep, start, StringComparison.Ordinal);
            if (k < 0) break;
            parts.Add(s[start..k]);
            start = k + sep.Length;
        }
        parts.Add(s[start..]);
        return parts;
    }

    /// <summary>str.splitlines(): the line breaks Python knows, dropped; no empty last line for a trailing break.</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>str.title(): a cased letter after an uncased character is upper-cased, the others lower-cased.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c);
            sb.Append(cased ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = cased;
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int start = 0;
        for (long n = 0; n < count; n++)
        {
            int k = old.Length == 0 ? (start <= s.Length ? start : -1) : s.IndexOf(old, start, StringComparison.Ordinal);
            if (k < 0) break;
            sb.Append(s, start, k - start).Append(replacement);
            if (old.Length == 0)
            {
                if (k < s.Length) sb.Append(s[k]);
                start = k + 1;
            }
            else start = k + old.Length;
        }
        if (start < s.Length) sb.Append(s, start, s.Length - start);
        return sb.ToString();
    }

    private static string InsertEverywhere(string s, string r)
    {
        var sb = new StringBuilder(r);
        foreach (char c in s) sb.Append(c).Append(r);
        return sb.ToString();
    }
}
