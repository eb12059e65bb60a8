namespace Tessera.Models.Ocr;

/// <summary>Letters and digits that look alike (o O and 0, l I and 1), put right by the word they stand in, as
/// Tesseract's unicharambigs do: a recogniser reading glyph by glyph takes a monospaced "O" for a zero, or a round
/// "o" between digits for a letter. A word of digits (at least <see cref="MinContext"/>) whose only letters are
/// look-alikes gets digits; a word of letters (at least <see cref="MinContext"/>) whose only digits are zeros gets
/// O's (o inside a word that is not all capitals). Anything else is left as read: "80G", "10am", "2nd".</summary>
internal static class LatinConfusables
{
    /// <summary>How many letters (or digits) a word needs before its look-alikes are taken for letters (or digits).</summary>
    public const int MinContext = 2;

    /// <summary><paramref name="word"/> with its look-alikes put right, or as it is (a word with other scripts'
    /// letters or digits is left alone).</summary>
    public static string Fix(string word)
    {
        int digits = 0, letters = 0, lookalikes = 0, zeros = 0, others = 0;
        foreach (char c in word)
        {
            if (c == '0') zeros++;
            else if (char.IsDigit(c)) digits++;
            else if (c is 'o' or 'O' or 'l' or 'I') lookalikes++;
            else if (char.IsLetter(c) && c < '\u0250') letters++;
            else if (char.IsLetterOrDigit(c)) others++;
        }
        if (others > 0) return word;
        // Digits: "2o17" -> "2017", "l995" -> "1995".
        if (lookalikes > 0 && letters == 0 && digits + zeros >= MinContext)
            return string.Create(word.Length, word, static (dst, w) =>
            {
                for (int i = 0; i < w.Length; i++) dst[i] = w[i] switch { 'o' or 'O' => '0', 'l' or 'I' => '1', var c => c };
            });
        // Letters: "0ak" -> "Oak", "C0MPANY" -> "COMPANY", "g00d" -> "good".
        if (zeros > 0 && digits == 0 && letters + lookalikes >= MinContext)
        {
            bool capitals = word.Where(char.IsLetter).All(char.IsUpper);
            var chars = word.ToCharArray();
            for (int i = 0; i < chars.Length; i++)
                if (chars[i] == '0') chars[i] = capitals || i == 0 || !char.IsLetter(chars[i - 1]) ? 'O' : 'o';
            return new string(chars);
        }
        return word;
    }
}
