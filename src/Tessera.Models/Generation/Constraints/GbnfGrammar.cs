namespace Tessera.Models.Generation.Constraints;

/// <summary>What one grammar element is (llama.cpp's <c>llama_gretype</c>).</summary>
internal enum GbnfElementType : byte
{
    /// <summary>End of a rule.</summary>
    End,
    /// <summary>Start of the next alternative of a rule.</summary>
    Alt,
    /// <summary>A reference to rule <c>Value</c>.</summary>
    RuleRef,
    /// <summary>A character class that matches code point <c>Value</c> (ranges and alternatives follow).</summary>
    Char,
    /// <summary>As <see cref="Char"/>, negated.</summary>
    CharNot,
    /// <summary>Follows a <see cref="Char"/>/<see cref="CharNot"/>/<see cref="CharAlt"/>: the range's upper bound.</summary>
    CharRangeUpper,
    /// <summary>Another code point of the same class.</summary>
    CharAlt,
    /// <summary>Any code point (<c>.</c>).</summary>
    CharAny,
}

/// <summary>One grammar element.</summary>
internal readonly record struct GbnfElement(GbnfElementType Type, uint Value);

/// <summary>A parsed GBNF grammar: every rule's elements in one array (alternatives separated by <c>Alt</c>, the rule
/// closed by <c>End</c>), repetitions already expanded into rules, and the root rule's index.</summary>
internal sealed class GbnfGrammar
{
    public GbnfGrammar(GbnfElement[] elements, int[] ruleStarts, string[] ruleNames, int root)
    {
        Elements = elements;
        RuleStarts = ruleStarts;
        RuleNames = ruleNames;
        Root = root;
        var alts = new int[ruleStarts.Length][];
        for (int r = 0; r < ruleStarts.Length; r++)
        {
            var starts = new List<int> { ruleStarts[r] };
            for (int p = ruleStarts[r]; elements[p].Type != GbnfElementType.End; p++)
                if (elements[p].Type == GbnfElementType.Alt) starts.Add(p + 1);
            alts[r] = [.. starts];
        }
        AlternativeStarts = alts;
    }

    /// <summary>All rules' elements.</summary>
    public GbnfElement[] Elements { get; }

    /// <summary>Where each rule's elements start.</summary>
    public int[] RuleStarts { get; }

    /// <summary>Rule names (generated rules get the name of the rule they came from plus a suffix).</summary>
    public string[] RuleNames { get; }

    /// <summary>Where each alternative of each rule starts.</summary>
    public int[][] AlternativeStarts { get; }

    /// <summary>The rule a document must match.</summary>
    public int Root { get; }

    /// <summary>Whether the element at <paramref name="pos"/> ends a sequence (an alternative's end or the rule's).</summary>
    public bool IsEndOfSequence(int pos) => Elements[pos].Type is GbnfElementType.End or GbnfElementType.Alt;

    /// <summary>Whether the character class starting at <paramref name="pos"/> matches <paramref name="cp"/>; also gives
    /// where the element after the class starts.</summary>
    public bool MatchChar(int pos, uint cp, out int next)
    {
        var e = Elements;
        if (e[pos].Type == GbnfElementType.CharAny)
        {
            next = pos + 1;
            return true;
        }
        bool negated = e[pos].Type == GbnfElementType.CharNot, found = false;
        int p = pos;
        do
        {
            if (p + 1 < e.Length && e[p + 1].Type == GbnfElementType.CharRangeUpper)
            {
                found |= e[p].Value <= cp && cp <= e[p + 1].Value;
                p += 2;
            }
            else
            {
                found |= e[p].Value == cp;
                p += 1;
            }
        } while (e[p].Type == GbnfElementType.CharAlt);
        next = p;
        return found != negated;
    }

    /// <summary>Whether the class at <paramref name="pos"/> may match some code point in [lo, hi] (for a token that ends
    /// inside a UTF-8 sequence).</summary>
    public bool MayMatchRange(int pos, uint lo, uint hi)
    {
        var e = Elements;
        if (e[pos].Type is GbnfElementType.CharAny or GbnfElementType.CharNot) return true;
        int p = pos;
        do
        {
            uint a = e[p].Value, b = a;
            if (e[p + 1].Type == GbnfElementType.CharRangeUpper)
            {
                b = e[p + 1].Value;
                p += 2;
            }
            else p += 1;
            if (a <= hi && b >= lo) return true;
        } while (e[p].Type == GbnfElementType.CharAlt);
        return false;
    }
}
