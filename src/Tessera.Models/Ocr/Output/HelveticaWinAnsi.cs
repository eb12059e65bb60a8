namespace Tessera.Models.Ocr.Output;

/// <summary>The standard Type 1 font Helvetica in WinAnsiEncoding (PDF 32000-1, annex D): how text maps to its byte
/// codes and how wide each glyph is. WinAnsi holds Latin-1 (U+0020-U+007E, U+00A0-U+00FF) plus 27 characters of
/// Windows-1252 (euro, typographic quotes and dashes, Œ, Š, Ž ...); every other character is written as '?', so a
/// searchable PDF carries Western European text exactly and other scripts only as placeholders.</summary>
internal static class HelveticaWinAnsi
{
    /// <summary>The first code with a width in <see cref="Widths"/>.</summary>
    internal const int FirstChar = 32;

    /// <summary>The glyph advance widths (1/1000 em) of codes 32-255: Helvetica's AFM metrics, as in URW's
    /// metric-compatible Nimbus Sans (0 where WinAnsi leaves a code undefined).</summary>
    internal static readonly short[] Widths =
    [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
        556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667,
        556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556,
        556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722,
        500, 500, 500, 334, 260, 334, 584, 0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0,
        611, 0, 0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556,
        556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365,
        556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722,
        722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889,
        500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556,
        500, 556, 500,
    ];

    // Windows-1252's codes 0x80-0x9F, as Unicode ('\0' where the code is undefined).
    private const string High = "\u20AC\0\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\0\u017D\0"
        + "\0\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\0\u017E\u0178";

    /// <summary>The WinAnsi code of <paramref name="c"/>, or '?' when WinAnsi has no such character.</summary>
    internal static byte Encode(char c)
    {
        if (c is >= ' ' and <= '~' or >= '\u00A0' and <= '\u00FF') return (byte)c;
        int i = High.IndexOf(c);
        return i >= 0 && c != '\0' ? (byte)(0x80 + i) : (byte)'?';
    }

    /// <summary>The WinAnsi codes of <paramref name="text"/> (a surrogate pair becomes one '?').</summary>
    internal static byte[] Encode(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            bytes.Add(Encode(text[i]));
        }
        return [.. bytes];
    }

    /// <summary>Whether every character of <paramref name="text"/> is in WinAnsi.</summary>
    internal static bool CanEncode(string text)
    {
        foreach (char c in text)
            if (Encode(c) == (byte)'?' && c != '?') return false;
        return true;
    }

    /// <summary>The advance width of the codes, in 1/1000 em.</summary>
    internal static int Width(ReadOnlySpan<byte> codes)
    {
        int w = 0;
        foreach (byte b in codes) w += b >= FirstChar ? Widths[b - FirstChar] : 0;
        return w;
    }
}
