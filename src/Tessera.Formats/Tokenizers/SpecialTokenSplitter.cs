namespace Tessera.Formats.Tokenizers;

/// <summary>Splits special-token text out of the input before tokenizing (llama.cpp's <c>tokenizer_st_partition</c>):
/// each special token in turn, longest first, is searched for in the remaining text fragments. Without parse_special
/// only user-defined tokens are split out (as Hugging Face's tokenizers do); control and unknown tokens stay text.</summary>
internal static class SpecialTokenSplitter
{
    /// <summary>A fragment: either a token id, or the text range [Start, Start+Length) of the input.</summary>
    public readonly record struct Fragment(int Token, int Start, int Length)
    {
        public bool IsText => Token < 0;
    }

    public static List<Fragment> Split(Vocabulary vocab, string text, bool parseSpecial)
    {
        var fragments = new LinkedList<Fragment>();
        if (text.Length == 0) return [];
        fragments.AddFirst(new Fragment(-1, 0, text.Length));
        foreach (int id in vocab.SpecialTokens)
        {
            var attr = vocab.Attrs[id];
            if (!parseSpecial && (attr & (TokenAttr.Control | TokenAttr.Unknown)) != 0) continue;
            string special = vocab.Texts[id];
            for (var node = fragments.First; node is not null; node = node.Next)
            {
                if (!node.Value.IsText) continue;
                int start = node.Value.Start, length = node.Value.Length;
                while (true)
                {
                    int match = text.IndexOf(special, start, length, StringComparison.Ordinal);
                    if (match < 0) break;
                    int leftLength = match - start;
                    if ((attr & TokenAttr.LStrip) != 0)
                        while (leftLength > 0 && IsSpace(text[start + leftLength - 1])) leftLength--;
                    if (leftLength > 0) fragments.AddBefore(node, new Fragment(-1, start, leftLength));
                    fragments.AddBefore(node, new Fragment(id, 0, 0));
                    int rightStart = match + special.Length, rightLength = start + length - rightStart;
                    if ((attr & TokenAttr.RStrip) != 0)
                        while (rightLength > 0 && IsSpace(text[rightStart])) { rightStart++; rightLength--; }
                    if (rightLength <= 0)
                    {
                        var gone = node;
                        node = node.Previous!;
                        fragments.Remove(gone);
                        break;
                    }
                    node.Value = new Fragment(-1, rightStart, rightLength);
                    start = rightStart;
                    length = rightLength;
                }
            }
        }
        return [.. fragments];
    }

    /// <summary>C's isspace in the C locale.</summary>
    private static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
