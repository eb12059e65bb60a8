namespace Tessera.Formats.Tokenizers;

/// <summary>The linked list of symbols both BPE flavours merge in place (llama.cpp's <c>llm_symbol</c>): each symbol is
/// a byte range of the text; merging grows the left one and empties the right one.</summary>
internal struct Symbol
{
    public int Prev, Next, Start, Length;
}

internal static class SymbolList
{
    /// <summary>One symbol per UTF-8 character of <paramref name="text"/> (a truncated sequence is cut at the end).</summary>
    public static List<Symbol> OfCharacters(string text, int from = 0)
    {
        var symbols = new List<Symbol>(text.Length - from);
        int index = 0;
        for (int offs = from; offs < text.Length;)
        {
            int len = Math.Min(ByteStrings.Utf8Length(text[offs]), text.Length - offs);
            symbols.Add(new Symbol { Start = offs, Length = len, Prev = index - 1, Next = offs + len == text.Length ? -1 : index + 1 });
            offs += len;
            index++;
        }
        return symbols;
    }

    /// <summary>Merges the right symbol into the left one and unlinks it.</summary>
    public static void Merge(List<Symbol> symbols, int left, int right)
    {
        var l = symbols[left];
        var r = symbols[right];
        l.Length += r.Length;
        l.Next = r.Next;
        r.Length = 0;
        symbols[left] = l;
        symbols[right] = r;
        if (r.Next >= 0) { var n = symbols[r.Next]; n.Prev = left; symbols[r.Next] = n; }
    }
}
