using System.Text;

namespace Tessera.Formats.Tokenizers;

/// <summary>llama.cpp tokenizes bytes, not characters (a SentencePiece symbol may be a lone continuation byte). We keep
/// that exactly by carrying UTF-8 as "byte strings": one char per byte (Latin-1), so that substrings, dictionary
/// lookups and lengths are byte-exact and still cheap.</summary>
internal static class ByteStrings
{
    public static string FromUtf8(ReadOnlySpan<byte> utf8) => Encoding.Latin1.GetString(utf8);

    public static string FromText(string text) => Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text));

    public static byte[] ToBytes(string byteString) => Encoding.Latin1.GetBytes(byteString);

    /// <summary>The length of the UTF-8 sequence a lead byte starts, by its high four bits (1 for a stray continuation
    /// byte), as <c>unicode_len_utf8</c>.</summary>
    public static int Utf8Length(char lead) => (lead >> 4) switch { 12 or 13 => 2, 14 => 3, 15 => 4, _ => 1 };

    /// <summary>Codepoints of UTF-8 bytes; an invalid sequence gives U+FFFD and skips one byte (as
    /// <c>unicode_cpts_from_utf8</c>).</summary>
    public static List<int> Codepoints(string bytes)
    {
        var result = new List<int>(bytes.Length);
        int i = 0, n = bytes.Length;
        while (i < n)
        {
            int b0 = bytes[i];
            int cp = -1, len = 1;
            if (b0 < 0x80) cp = b0;
            else if ((b0 & 0x40) == 0) cp = -1;
            else if ((b0 & 0x20) == 0) { len = 2; if (Cont(bytes, i, 1)) cp = ((b0 & 0x1F) << 6) | (bytes[i + 1] & 0x3F); }
            else if ((b0 & 0x10) == 0) { len = 3; if (Cont(bytes, i, 2)) cp = ((b0 & 0x0F) << 12) | ((bytes[i + 1] & 0x3F) << 6) | (bytes[i + 2] & 0x3F); }
            else if ((b0 & 0x08) == 0) { len = 4; if (Cont(bytes, i, 3)) cp = ((b0 & 0x07) << 18) | ((bytes[i + 1] & 0x3F) << 12) | ((bytes[i + 2] & 0x3F) << 6) | (bytes[i + 3] & 0x3F); }
            if (cp < 0 || cp > 0x10FFFF) { result.Add(0xFFFD); i++; continue; }
            result.Add(cp);
            i += len;
        }
        return result;
    }

    private static bool Cont(string s, int i, int count)
    {
        if (i + count >= s.Length) return false;
        for (int k = 1; k <= count; k++)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        return true;
    }

    /// <summary>Appends a codepoint's UTF-8 bytes to a byte string.</summary>
    public static void AppendUtf8(StringBuilder sb, int cp)
    {
        if (cp < 0x80) sb.Append((char)cp);
        else if (cp < 0x800) sb.Append((char)(0xC0 | (cp >> 6))).Append((char)(0x80 | (cp & 0x3F)));
        else if (cp < 0x10000) sb.Append((char)(0xE0 | (cp >> 12))).Append((char)(0x80 | ((cp >> 6) & 0x3F))).Append((char)(0x80 | (cp & 0x3F)));
        else sb.Append((char)(0xF0 | (cp >> 18))).Append((char)(0x80 | ((cp >> 12) & 0x3F))).Append((char)(0x80 | ((cp >> 6) & 0x3F))).Append((char)(0x80 | (cp & 0x3F)));
    }
}
