using System.Text;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>Seeded random text that exercises pre-tokenizers: words in several scripts (Latin with accents, Greek,
/// Cyrillic, Arabic, Devanagari, CJK, Hangul), digit runs, ASCII and CJK punctuation, contractions in both cases,
/// emoji, combining marks, runs of spaces, tabs, CR/LF and non-ASCII whitespace. Characters are drawn from long-assigned
/// blocks so that .NET's and llama.cpp's Unicode tables agree.</summary>
internal static class RandomText
{
    private static readonly (int Lo, int Hi)[] Letters =
        [('a', 'z'), ('A', 'Z'), (0xC0, 0xFF), (0x391, 0x3A9), (0x3B1, 0x3C9), (0x410, 0x44F), (0x627, 0x64A), (0x905, 0x939), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x3041, 0x3096)];

    private static readonly string[] Pieces =
        ["'s", "'S", "'ll", "'LL", "'re", "'ve", "'d", "'T", "'m", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u3000", "\u00A0", "\u2009",
         ".", ",", "!", "?", "...", "(", ")", "[", "]", "{", "}", "\"", "'", "-", "_", "/", "\\", ":", ";", "$", "+", "<", "=", ">", "^", "~", "|", "`", "@", "#", "%", "&", "*",
         "，", "。", "！", "？", "「", "」", "🦙", "🚀", "😀", "👍🏽", "\u0301", "\u0308", "½", "²", "Ⅻ", "©", "€", "→", "∑"];

    public static string Next(Random rng)
    {
        var sb = new StringBuilder();
        int parts = rng.Next(1, 14);
        for (int p = 0; p < parts; p++)
        {
            switch (rng.Next(4))
            {
                case 0 or 1:
                    var (lo, hi) = Letters[rng.Next(Letters.Length)];
                    int len = rng.Next(1, 9);
                    for (int i = 0; i < len; i++) sb.Append(char.ConvertFromUtf32(rng.Next(lo, hi + 1)));
                    break;
                case 2:
                    int digits = rng.Next(1, 9);
                    for (int i = 0; i < digits; i++) sb.Append((char)('0' + rng.Next(10)));
                    break;
                default:
                    sb.Append(Pieces[rng.Next(Pieces.Length)]);
                    break;
            }
        }
        return sb.ToString();
    }
}
