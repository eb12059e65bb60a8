using System.Runtime.CompilerServices;
using Tessera.Formats.Tokenizers;

namespace Tessera.Models.Generation.Constraints;

/// <summary>Every token's bytes (its piece, as output) in one byte trie, so that tokens sharing a prefix have that prefix
/// walked through the grammar once. Stored flat: a node's edges are a run of (byte, child) pairs, its tokens a run of
/// ids. Tokens without bytes (control tokens) are not in it. Immutable; one per tokenizer, shared.</summary>
public sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<ITokenizer, TokenTrie> Cache = new();

    private readonly int[] _edgeStart;   // per node: first edge; _edgeStart[node + 1] ends it
    private readonly byte[] _edgeByte;
    private readonly int[] _edgeTarget;
    private readonly int[] _tokenStart;  // per node: first token ending there
    private readonly int[] _tokens;
    private readonly byte[][] _pieces;

    private TokenTrie(ITokenizer tokenizer)
    {
        VocabSize = tokenizer.VocabSize;
        _pieces = new byte[VocabSize][];
        var children = new List<SortedDictionary<byte, int>> { new() };
        var ends = new List<List<int>?> { null };
        for (int id = 0; id < VocabSize; id++)
        {
            byte[] piece = _pieces[id] = tokenizer.TokenToPiece(id);
            if (piece.Length == 0) continue;
            int node = 0;
            foreach (byte b in piece)
            {
                if (!children[node].TryGetValue(b, out int next))
                {
                    next = children.Count;
                    children.Add(new());
                    ends.Add(null);
                    children[node][b] = next;
                }
                node = next;
            }
            (ends[node] ??= []).Add(id);
        }
        int n = children.Count;
        NodeCount = n;
        _edgeStart = new int[n + 1];
        _tokenStart = new int[n + 1];
        var eb = new List<byte>();
        var et = new List<int>();
        var tk = new List<int>();
        for (int node = 0; node < n; node++)
        {
            _edgeStart[node] = eb.Count;
            _tokenStart[node] = tk.Count;
            foreach (var (b, child) in children[node])
            {
                eb.Add(b);
                et.Add(child);
            }
            if (ends[node] is { } list) tk.AddRange(list);
        }
        _edgeStart[n] = eb.Count;
        _tokenStart[n] = tk.Count;
        _edgeByte = [.. eb];
        _edgeTarget = [.. et];
        _tokens = [.. tk];
    }

    /// <summary>The trie of <paramref name="tokenizer"/>'s vocabulary (built once per tokenizer instance).</summary>
    public static TokenTrie For(ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Cache.GetValue(tokenizer, t => new TokenTrie(t));
    }

    /// <summary>Tokens in the vocabulary (ids 0 .. VocabSize - 1).</summary>
    public int VocabSize { get; }

    /// <summary>Trie nodes (the root included).</summary>
    public int NodeCount { get; }

    /// <summary>The bytes token <paramref name="id"/> outputs (empty for a control token).</summary>
    public ReadOnlySpan<byte> Piece(int id) => _pieces[id];

    internal void Children(int node, out int first, out int count)
    {
        first = _edgeStart[node];
        count = _edgeStart[node + 1] - first;
    }

    internal byte EdgeByte(int edge) => _edgeByte[edge];

    internal int EdgeTarget(int edge) => _edgeTarget[edge];

    internal ReadOnlySpan<int> TokensAt(int node) => _tokens.AsSpan(_tokenStart[node], _tokenStart[node + 1] - _tokenStart[node]);
}
