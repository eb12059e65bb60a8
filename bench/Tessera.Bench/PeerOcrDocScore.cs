using System.Text;

namespace Tessera.Bench;

/// <summary>The strict page score of <see cref="PeerOcrDoc"/>, the same for every engine: the whole page's text
/// (lines joined by new lines) is NFKC-normalised (PP-OCR's dictionary has full-width forms of ASCII punctuation),
/// runs of white space become one space and the ends are trimmed; CER is the edit distance to the equally normalised
/// truth over the truth's length. Spaces count, and so does order: a column read in the wrong place costs its
/// characters twice (deleted where they belong, inserted where they were read).</summary>
internal static class PeerOcrDocScore
{
    /// <summary>NFKC, white space runs as one space, trimmed.</summary>
    public static string Normalize(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s.Normalize(NormalizationForm.FormKC))
        {
            if (!char.IsWhiteSpace(c)) sb.Append(c);
            else if (sb.Length > 0 && sb[^1] != ' ') sb.Append(' ');
        }
        return sb.ToString().TrimEnd();
    }

    /// <summary>Edit distance of the normalised <paramref name="read"/> to the normalised <paramref name="truth"/>,
    /// over the latter's length (1 per character when nothing was read).</summary>
    public static double Cer(string truth, string read)
    {
        string t = Normalize(truth), r = Normalize(read);
        if (t.Length == 0) throw new ArgumentException("a benchmark page must have some truth text");
        return (double)PeerOcrCer.Levenshtein(t, r) / t.Length;
    }
}
