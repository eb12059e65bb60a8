namespace Tessera.Models.Generation.Constraints;

/// <summary>Rejects left-recursive grammars (a rule that can reach itself before consuming a character), which a
/// pushdown matcher would expand forever; llama.cpp rejects them too.</summary>
internal static class GbnfChecks
{
    public static void RejectLeftRecursion(GbnfGrammar g)
    {
        int n = g.RuleStarts.Length;
        // Nullable rules: those that can match the empty text (a fixed point over the alternatives).
        var nullable = new bool[n];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int r = 0; r < n; r++)
            {
                if (nullable[r]) continue;
                foreach (int a in g.AlternativeStarts[r])
                {
                    int p = a;
                    while (!g.IsEndOfSequence(p) && g.Elements[p].Type == GbnfElementType.RuleRef && nullable[g.Elements[p].Value]) p++;
                    if (g.IsEndOfSequence(p))
                    {
                        nullable[r] = changed = true;
                        break;
                    }
                }
            }
        }
        // The rules each rule can start with (skipping over nullable ones), then a depth-first search for a cycle.
        var left = new List<int>[n];
        for (int r = 0; r < n; r++)
        {
            left[r] = [];
            foreach (int a in g.AlternativeStarts[r])
                for (int p = a; !g.IsEndOfSequence(p) && g.Elements[p].Type == GbnfElementType.RuleRef; p++)
                {
                    left[r].Add((int)g.Elements[p].Value);
                    if (!nullable[g.Elements[p].Value]) break;
                }
        }
        var state = new byte[n]; // 0 new, 1 on the path, 2 done
        for (int r = 0; r < n; r++) Visit(r);

        void Visit(int r)
        {
            if (state[r] == 2) return;
            if (state[r] == 1) throw new TesseraException($"grammar: rule '{g.RuleNames[r]}' is left-recursive (it can reach itself before any character)");
            state[r] = 1;
            foreach (int s in left[r]) Visit(s);
            state[r] = 2;
        }
    }
}
