namespace Tessera.Formats.Tokenizers;

/// <summary>GPT-2's and Llama 3's pre-tokenizer regexes as llama.cpp hand-codes them (<c>unicode_regex_split_custom_*</c>),
/// scanning codepoints with their flags. Each function splits every existing piece on its own and returns the new
/// piece lengths.</summary>
internal static class WordScanners
{
    /// <summary><c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c></summary>
    public static List<int> Gpt2(List<int> cps, List<int> lengths) => Scan(cps, lengths, llama3: false);

    /// <summary><c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c></summary>
    public static List<int> Llama3(List<int> cps, List<int> lengths) => Scan(cps, lengths, llama3: true);

    private const int OutOfRange = -1;

    private static List<int> Scan(List<int> cps, List<int> lengths, bool llama3)
    {
        var result = new List<int>(lengths.Count * 4);
        int start = 0;
        foreach (int len in lengths)
        {
            int ini = start, end = start + len;
            start = end;
            int Cp(int p) => p >= ini && p < end ? cps[p] : OutOfRange;
            CodepointFlags F(int p) => p >= ini && p < end ? Codepoints.Flags(cps[p]) : CodepointFlags.None;
            int prevEnd = ini;
            int Emit(int e) { int n = e - prevEnd; if (n > 0) result.Add(n); prevEnd = e; return n; }
            static bool Other(CodepointFlags f) => (f & (CodepointFlags.Whitespace | CodepointFlags.Letter | CodepointFlags.Number)) == 0 && f != CodepointFlags.None;

            for (int pos = ini; pos < end;)
            {
                int cp = Cp(pos);
                var flags = F(pos);

                // contractions ('s 't 're 've 'm 'll 'd), case-insensitive for Llama 3
                if (cp == '\'' && pos + 1 < end)
                {
                    int next = llama3 ? Codepoints.ToLower(Cp(pos + 1)) : Cp(pos + 1);
                    if (next is 's' or 't' or 'm' or 'd') { pos += Emit(pos + 2); continue; }
                    if (pos + 2 < end)
                    {
                        int next2 = llama3 ? Codepoints.ToLower(Cp(pos + 2)) : Cp(pos + 2);
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) { pos += Emit(pos + 3); continue; }
                    }
                }

                if (llama3)
                {
                    // [^\r\n\p{L}\p{N}]?\p{L}+
                    if (!(cp == '\r' || cp == '\n' || flags.IsNumber()) && (flags.IsLetter() || F(pos + 1).IsLetter()))
                    {
                        pos++;
                        while (F(pos).IsLetter()) pos++;
                        Emit(pos);
                        continue;
                    }
                    // \p{N}{1,3}
                    if (flags.IsNumber())
                    {
                        int first = pos;
                        while (F(pos).IsNumber())
                            if (++pos - first >= 3) { Emit(pos); first = pos; }
                        Emit(pos);
                        continue;
                    }
                    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
                    var f2 = cp == ' ' ? F(pos + 1) : flags;
                    if (Other(f2) && flags != CodepointFlags.None)
                    {
                        pos += cp == ' ' ? 1 : 0;
                        while (Other(f2)) f2 = F(++pos);
                        while (Cp(pos) is '\r' or '\n') pos++;
                        Emit(pos);
                        continue;
                    }
                }
                else
                {
                    var f2 = cp == ' ' ? F(pos + 1) : flags;
                    if (f2.IsLetter()) { pos += cp == ' ' ? 1 : 0; while (f2.IsLetter()) f2 = F(++pos); Emit(pos); continue; }
                    if (f2.IsNumber()) { pos += cp == ' ' ? 1 : 0; while (f2.IsNumber()) f2 = F(++pos); Emit(pos); continue; }
                    if (Other(f2)) { pos += cp == ' ' ? 1 : 0; while (Other(f2)) f2 = F(++pos); Emit(pos); continue; }
                }

                int spaces = 0, lastNewlineEnd = 0;
                while (F(pos + spaces).IsWhitespace())
                {
                    if (Cp(pos + spaces) is '\r' or '\n') lastNewlineEnd = pos + spaces + 1;
                    spaces++;
                }
                // \s*[\r\n]+ (Llama 3 only)
                if (llama3 && lastNewlineEnd > 0) { pos = lastNewlineEnd; Emit(pos); continue; }
                // \s+(?!\S): all but the last space when something follows
                if (spaces > 1 && Cp(pos + spaces) != OutOfRange) { pos += spaces - 1; Emit(pos); continue; }
                // \s+
                if (spaces > 0) { pos += spaces; Emit(pos); continue; }
                Emit(++pos);
            }
        }
        return result;
    }
}
