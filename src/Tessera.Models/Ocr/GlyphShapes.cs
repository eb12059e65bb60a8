namespace Tessera.Models.Ocr;

/// <summary>Reads again, from the widths of the ink, a choice a recogniser makes poorly because the shapes differ only
/// in size: zero or capital O in a word holding letters ("8OG"). Figures are tabular, a zero's ink about as wide as
/// the other digits', a capital O's far wider (by 40 to 55% in the common text faces); a zero at least
/// <see cref="WideZeroFactor"/> times as wide as the line's median digit 2 to 9 is an O. Needs
/// <see cref="MinReferences"/> such digits on the line; words of digits alone are left as read. The measure is the
/// line's own; nothing depends on the font or size.</summary>
internal static class GlyphShapes
{
    /// <summary>A zero this many times as wide as the line's median digit (2 to 9) is a capital O.</summary>
    public const float WideZeroFactor = 1.25f;

    /// <summary>How many reference glyphs of each kind a decision needs.</summary>
    public const int MinReferences = 2;

    private const string WidthDigits = "23456789";

    /// <summary>The characters of a line (one string each) with zeros in words of letters put right by their width.
    /// <paramref name="left"/> and <paramref name="right"/> are each character's ink columns in
    /// the line's crop and <paramref name="breaks"/>[i] whether a word starts at character i.</summary>
    public static string[] Fix(IReadOnlyList<string> chars, IReadOnlyList<float> left, IReadOnlyList<float> right, bool[] breaks)
    {
        int n = chars.Count;
        var result = chars.ToArray();
        float? Median(string kinds, Func<int, float> measure)
        {
            var v = Enumerable.Range(0, n).Where(i => chars[i].Length == 1 && kinds.Contains(chars[i][0]) && measure(i) > 0).Select(measure).OrderBy(x => x).ToArray();
            return v.Length < MinReferences ? null : v[v.Length / 2];
        }

        if (Median(WidthDigits, i => right[i] - left[i]) is { } digitWidth)
            for (int i = 0; i < n; i++)
            {
                if (chars[i] != "0" || right[i] - left[i] < WideZeroFactor * digitWidth) continue;
                int s = i, e = i + 1;
                while (s > 0 && !breaks[s]) s--;
                while (e < n && !breaks[e]) e++;
                bool letters = Enumerable.Range(s, e - s).Any(k => chars[k].Any(c => char.IsLetter(c) && c < '\u0250'));
                if (letters) result[i] = "O";
            }
        return result;
    }
}
