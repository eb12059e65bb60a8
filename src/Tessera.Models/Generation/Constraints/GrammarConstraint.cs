using System.Runtime.CompilerServices;
using Tessera.Formats.Tokenizers;

namespace Tessera.Models.Generation.Constraints;

/// <summary>A compiled output constraint: a GBNF grammar (llama.cpp's syntax) or a JSON schema compiled to one. It is
/// independent of any tokenizer; <see cref="CreateMatcher"/> gives one sequence's state over a vocabulary. Immutable and
/// shareable: sequences over the same tokenizer share the memoised automaton (transitions and token masks).</summary>
public sealed class GrammarConstraint
{
    private readonly ConditionalWeakTable<TokenTrie, GrammarAutomaton> _automata = new();

    private GrammarConstraint(GbnfGrammar grammar, string text)
    {
        Grammar = grammar;
        GbnfText = text;
        _ = new GrammarAutomaton(grammar); // fails now, not at the first token, if the root matches nothing
    }

    internal GbnfGrammar Grammar { get; }

    /// <summary>The grammar's GBNF text (for a JSON schema: the grammar it was compiled to).</summary>
    public string GbnfText { get; }

    /// <summary>Parses a GBNF grammar whose document rule is <c>root</c>; errors name the line and column.</summary>
    public static GrammarConstraint FromGbnf(string gbnf) => new(GbnfParser.Parse(gbnf), gbnf);

    /// <summary>Compiles a JSON schema (the OpenAI <c>response_format</c> subset; see <see cref="JsonSchemaGrammar"/>).</summary>
    public static GrammarConstraint FromJsonSchema(string schemaJson)
    {
        string gbnf = JsonSchemaGrammar.ToGbnf(schemaJson);
        return new(GbnfParser.Parse(gbnf), gbnf);
    }

    /// <summary>A fresh matcher (no text yet) over <paramref name="tokenizer"/>'s vocabulary.</summary>
    public GrammarMatcher CreateMatcher(ITokenizer tokenizer)
    {
        var trie = TokenTrie.For(tokenizer);
        return new GrammarMatcher(_automata.GetValue(trie, _ => new GrammarAutomaton(Grammar)), trie);
    }

    /// <summary>Whether <paramref name="text"/> is a complete document of the grammar.</summary>
    public bool Accepts(string text) => Walk(text) is { } s && s.Automaton.IsAccepting(s.State);

    /// <summary>Whether <paramref name="text"/> can still be extended into a document (or is one).</summary>
    public bool AcceptsPrefix(string text) => Walk(text) is not null;

    private (GrammarAutomaton Automaton, int State)? Walk(string text)
    {
        var a = new GrammarAutomaton(Grammar);
        int s = a.Walk(a.Start, System.Text.Encoding.UTF8.GetBytes(text));
        return s == GrammarAutomaton.Dead ? null : (a, s);
    }
}

/// <summary>One sequence's position in a grammar: which tokens may come next (<see cref="ApplyMask"/>,
/// <see cref="Allows"/>) and the state after each chosen token (<see cref="Accept"/>).</summary>
public sealed class GrammarMatcher
{
    private readonly GrammarAutomaton _automaton;
    private readonly TokenTrie _trie;
    private int _state;

    internal GrammarMatcher(GrammarAutomaton automaton, TokenTrie trie)
    {
        _automaton = automaton;
        _trie = trie;
        _state = automaton.Start;
    }

    /// <summary>Whether the text so far is a complete document (a stop token is allowed only then).</summary>
    public bool IsComplete => _automaton.IsAccepting(_state);

    /// <summary>Whether <paramref name="token"/> may come next: a stop token when the document is complete, any other
    /// token when its bytes keep the text a prefix of a document.</summary>
    public bool Allows(int token, IReadOnlySet<int> stopTokens)
    {
        if (stopTokens.Contains(token)) return IsComplete;
        if ((uint)token >= (uint)_trie.VocabSize) return false;
        var piece = _trie.Piece(token);
        return !piece.IsEmpty && _automaton.Walk(_state, piece) != GrammarAutomaton.Dead;
    }

    /// <summary>Sets the logit of every token that may not come next to -infinity. Throws when nothing may (the grammar
    /// wants text that no token of this vocabulary spells).</summary>
    public void ApplyMask(Span<float> logits, IReadOnlySet<int> stopTokens)
    {
        if (logits.Length != _trie.VocabSize)
            throw new TesseraException($"grammar: {logits.Length} logits for a vocabulary of {_trie.VocabSize} tokens");
        var mask = _automaton.Mask(_state, _trie);
        bool complete = IsComplete, any = false;
        // Stop tokens are decided by completeness, not by their (usually empty) bytes: keep their logits aside.
        Span<float> stopLogits = stackalloc float[Math.Min(stopTokens.Count, 64)];
        int k = 0;
        foreach (int stop in stopTokens)
            if (k < stopLogits.Length && (uint)stop < (uint)logits.Length) stopLogits[k++] = logits[stop];
        for (int w = 0; w < mask.Length; w++)
        {
            ulong bits = mask[w];
            int baseId = w << 6, end = Math.Min(64, logits.Length - baseId);
            for (int i = 0; i < end; i++)
                if ((bits >> i & 1) == 0) logits[baseId + i] = float.NegativeInfinity;
                else any |= !float.IsNegativeInfinity(logits[baseId + i]);
        }
        k = 0;
        foreach (int stop in stopTokens)
        {
            if (k >= stopLogits.Length || (uint)stop >= (uint)logits.Length) continue;
            float l = stopLogits[k++];
            logits[stop] = complete ? l : float.NegativeInfinity;
            any |= complete && !float.IsNegativeInfinity(l);
        }
        if (!any)
            throw new TesseraException(complete
                ? "grammar: the document is complete but no stop token may end it (the options name none, or all are banned)"
                : "grammar: no token can continue the document here (none is allowed)");
    }

    /// <summary>Moves past <paramref name="token"/>'s bytes; a token the grammar does not allow is an error.</summary>
    public void Accept(int token)
    {
        if ((uint)token >= (uint)_trie.VocabSize) throw new TesseraException($"grammar: token {token} is outside the vocabulary of {_trie.VocabSize}");
        int next = _automaton.Walk(_state, _trie.Piece(token));
        if (next == GrammarAutomaton.Dead || _trie.Piece(token).IsEmpty)
            throw new TesseraException($"grammar: token {token} does not continue the document");
        _state = next;
    }
}
