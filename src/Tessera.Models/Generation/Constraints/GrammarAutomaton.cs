namespace Tessera.Models.Generation.Constraints;

/// <summary>The grammar's pushdown automaton, run on UTF-8 bytes and memoised as a lazily built DFA. A parse stack is a
/// chain of grammar positions (top first), interned so that equal stacks are one id; a state is the set of stacks the
/// text so far leaves (each top a character class, or the empty stack once a document is complete, as llama.cpp's
/// <c>llama_grammar_advance_stack</c> leaves them) plus an unfinished UTF-8 sequence. Each state's byte transitions
/// and token mask are computed once and then looked up. Thread-safe (one lock): sequences decoding the same grammar
/// share the memo.</summary>
internal sealed class GrammarAutomaton
{
    /// <summary>The dead state: the text can no longer become a document.</summary>
    public const int Dead = -1;
    private const int EmptyStack = -1;

    private readonly GbnfGrammar _g;
    private readonly object _lock = new();
    // Interned stack nodes: (grammar position, parent node) -> id.
    private readonly Dictionary<(int Pos, int Parent), int> _nodeIds = [];
    private readonly List<(int Pos, int Parent)> _nodes = [];
    private readonly Dictionary<int[], int> _stateIds = new(IntArrayComparer.Instance);
    private readonly List<State> _states = [];

    private sealed class State(int[] key, int[] stacks, uint partial, int remaining)
    {
        public readonly int[] Key = key;
        public readonly int[] Stacks = stacks;
        public readonly uint Partial = partial;
        public readonly int Remaining = remaining;
        // 0: not computed yet; Dead is stored as int.MinValue; otherwise the next state's id + 1.
        public readonly int[] Next = new int[256];
        public ulong[]? Mask;
    }

    public GrammarAutomaton(GbnfGrammar grammar)
    {
        _g = grammar;
        var stacks = new SortedSet<int>();
        Expand(Push(EmptyStack, _g.RuleStarts[_g.Root]), stacks);
        Start = Intern([.. stacks], 0, 0);
        if (Start == Dead) throw new TesseraException("grammar: the root rule matches nothing");
    }

    /// <summary>The state before any text.</summary>
    public int Start { get; }

    /// <summary>States made so far (a measure of how much of the automaton the text has explored).</summary>
    public int StateCount { get { lock (_lock) return _states.Count; } }

    /// <summary>Whether the text that led to <paramref name="state"/> is a complete document.</summary>
    public bool IsAccepting(int state)
    {
        lock (_lock)
        {
            var s = _states[state];
            return s.Remaining == 0 && s.Stacks.Length > 0 && s.Stacks[0] == EmptyStack;
        }
    }

    /// <summary>The state after <paramref name="state"/> reads <paramref name="b"/> (<see cref="Dead"/> when the text
    /// cannot continue so).</summary>
    public int Step(int state, byte b)
    {
        lock (_lock) return StepLocked(state, b);
    }

    /// <summary>The state after a byte string (<see cref="Dead"/> as soon as it dies).</summary>
    public int Walk(int state, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (byte b in bytes)
            {
                state = StepLocked(state, b);
                if (state == Dead) break;
            }
            return state;
        }
    }

    /// <summary>The tokens of <paramref name="trie"/> allowed in <paramref name="state"/>, as bits (computed once per
    /// state, by one walk of the trie that skips every subtree whose prefix is already dead).</summary>
    public ulong[] Mask(int state, TokenTrie trie)
    {
        lock (_lock)
        {
            var s = _states[state];
            if (s.Mask is not null) return s.Mask;
            var mask = new ulong[(trie.VocabSize + 63) / 64];
            var work = new Stack<(int Node, int State)>();
            work.Push((0, state));
            while (work.Count > 0)
            {
                var (node, st) = work.Pop();
                trie.Children(node, out int first, out int count);
                for (int i = first; i < first + count; i++)
                {
                    int next = StepLocked(st, trie.EdgeByte(i));
                    if (next == Dead) continue;
                    int child = trie.EdgeTarget(i);
                    foreach (int id in trie.TokensAt(child)) mask[id >> 6] |= 1UL << (id & 63);
                    work.Push((child, next));
                }
            }
            return s.Mask = mask;
        }
    }

    private int StepLocked(int state, byte b)
    {
        var s = _states[state];
        int cached = s.Next[b];
        if (cached != 0) return cached == int.MinValue ? Dead : cached - 1;
        int next = Compute(s, b);
        s.Next[b] = next == Dead ? int.MinValue : next + 1;
        return next;
    }

    // An unfinished UTF-8 sequence is kept as its bits so far, with the sequence's length in bits 28-30 (so that an
    // overlong form, a surrogate or a code point past U+10FFFF can be refused).
    private const int LengthShift = 28;
    private static readonly uint[] MinCodePoint = [0, 0, 0x80, 0x800, 0x10000];

    private int Compute(State s, byte b)
    {
        uint cp;
        if (s.Remaining == 0)
        {
            if (b < 0x80) cp = b;
            else if ((b & 0xE0) == 0xC0) return Partial(s.Stacks, b & 0x1Fu | 2u << LengthShift, 1);
            else if ((b & 0xF0) == 0xE0) return Partial(s.Stacks, b & 0x0Fu | 3u << LengthShift, 2);
            else if ((b & 0xF8) == 0xF0) return Partial(s.Stacks, b & 0x07u | 4u << LengthShift, 3);
            else return Dead;
        }
        else
        {
            if ((b & 0xC0) != 0x80) return Dead;
            uint length = s.Partial >> LengthShift;
            cp = (s.Partial & ((1u << LengthShift) - 1)) << 6 | (b & 0x3Fu);
            if (s.Remaining > 1) return Partial(s.Stacks, cp | length << LengthShift, s.Remaining - 1);
            if (cp < MinCodePoint[length] || cp is >= 0xD800 and <= 0xDFFF || cp > 0x10FFFF) return Dead;
        }
        var next = new SortedSet<int>();
        foreach (int stack in s.Stacks)
        {
            if (stack == EmptyStack) continue;
            var (pos, parent) = _nodes[stack];
            if (!_g.MatchChar(pos, cp, out int after)) continue;
            Expand(_g.IsEndOfSequence(after) ? parent : Push(parent, after), next);
        }
        return next.Count == 0 ? Dead : Intern([.. next], 0, 0);
    }

    // A state inside a UTF-8 sequence lives only while some class may still take the code point it starts.
    private int Partial(int[] stacks, uint partial, int remaining) =>
        MayComplete(stacks, partial, remaining) ? Intern(stacks, partial, remaining) : Dead;

    // Whether some stack's class may take a valid code point that starts with the unfinished sequence's bits.
    private bool MayComplete(int[] stacks, uint partial, int remaining)
    {
        uint length = partial >> LengthShift, bits = partial & ((1u << LengthShift) - 1);
        uint lo = bits << (6 * remaining), hi = lo | ((1u << (6 * remaining)) - 1);
        lo = Math.Max(lo, MinCodePoint[length]);
        hi = Math.Min(hi, 0x10FFFF);
        if (lo > hi) return false;
        foreach (int stack in stacks)
            if (stack != EmptyStack && _g.MayMatchRange(_nodes[stack].Pos, lo, hi)) return true;
        return false;
    }

    private int Push(int parent, int pos)
    {
        if (_nodeIds.TryGetValue((pos, parent), out int id)) return id;
        id = _nodes.Count;
        _nodes.Add((pos, parent));
        _nodeIds[(pos, parent)] = id;
        return id;
    }

    // Expands a stack until its top is a character class (or the stack is empty), adding every result to output.
    private void Expand(int stack, SortedSet<int> output)
    {
        var seen = new HashSet<int>();
        var work = new Stack<int>();
        work.Push(stack);
        while (work.Count > 0)
        {
            int st = work.Pop();
            if (!seen.Add(st)) continue;
            if (st == EmptyStack)
            {
                output.Add(EmptyStack);
                continue;
            }
            var (pos, parent) = _nodes[st];
            var e = _g.Elements[pos];
            if (e.Type != GbnfElementType.RuleRef)
            {
                output.Add(st);
                continue;
            }
            // The rest of this sequence waits under the referenced rule's alternatives.
            int rest = _g.IsEndOfSequence(pos + 1) ? parent : Push(parent, pos + 1);
            foreach (int alt in _g.AlternativeStarts[e.Value])
                work.Push(_g.IsEndOfSequence(alt) ? rest : Push(rest, alt));
        }
    }

    private int Intern(int[] stacks, uint partial, int remaining)
    {
        if (stacks.Length == 0) return Dead;
        var key = new int[stacks.Length + 2];
        key[0] = (int)partial;
        key[1] = remaining;
        stacks.CopyTo(key, 2);
        if (_stateIds.TryGetValue(key, out int id)) return id;
        id = _states.Count;
        _states.Add(new State(key, stacks, partial, remaining));
        _stateIds[key] = id;
        return id;
    }

    private sealed class IntArrayComparer : IEqualityComparer<int[]>
    {
        public static readonly IntArrayComparer Instance = new();
        public bool Equals(int[]? a, int[]? b) => a.AsSpan().SequenceEqual(b);
        public int GetHashCode(int[] a)
        {
            var h = new HashCode();
            h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
            return h.ToHashCode();
        }
    }
}
