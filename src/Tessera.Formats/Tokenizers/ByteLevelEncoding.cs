using System.Text;

namespace Tessera.Formats.Tokenizers;

/// <summary>GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the other 68 bytes for
/// U+0100 onwards in byte order, so that every byte sequence is a string of visible characters.</summary>
internal static class ByteLevelEncoding
{
    private static readonly int[] ByteToCp = BuildByteToCp();
    private static readonly Dictionary<int, byte> CpToByte = BuildCpToByte();

    private static int[] BuildByteToCp()
    {
        var map = new int[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            map[b] = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) ? b : next++;
        return map;
    }

    private static Dictionary<int, byte> BuildCpToByte()
    {
        var d = new Dictionary<int, byte>(256);
        for (int b = 0; b < 256; b++) d[ByteToCp[b]] = (byte)b;
        return d;
    }

    /// <summary>The byte string of a word whose bytes are each replaced by their map character.</summary>
    public static string Encode(string wordBytes)
    {
        var sb = new StringBuilder(wordBytes.Length * 2);
        foreach (char b in wordBytes) ByteStrings.AppendUtf8(sb, ByteToCp[b]);
        return sb.ToString();
    }

    /// <summary>The byte string of the one byte a map character stands for.</summary>
    public static string EncodeByte(byte b)
    {
        var sb = new StringBuilder(2);
        ByteStrings.AppendUtf8(sb, ByteToCp[b]);
        return sb.ToString();
    }

    /// <summary>The bytes a byte-level token's text stands for; a character outside the map gives llama.cpp's
    /// <c>[UNK_BYTE_0x..]</c> marker, as <c>llama_decode_text</c>.</summary>
    public static string Decode(string tokenBytes)
    {
        var sb = new StringBuilder(tokenBytes.Length);
        foreach (int cp in ByteStrings.Codepoints(tokenBytes))
        {
            if (CpToByte.TryGetValue(cp, out byte b)) { sb.Append((char)b); continue; }
            var utf8 = new StringBuilder();
            ByteStrings.AppendUtf8(utf8, cp);
            sb.Append("[UNK_BYTE_0x");
            foreach (char c in utf8.ToString()) sb.Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            sb.Append(tokenBytes).Append(']');
        }
        return sb.ToString();
    }
}
