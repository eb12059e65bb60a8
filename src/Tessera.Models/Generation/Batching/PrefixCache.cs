using Tessera.Attention;

namespace Tessera.Models.Generation.Batching;

/// <summary>Automatic prefix caching (vLLM's): every full KV block a sequence has written is recorded under the tokens
/// it holds and the block before it, so that a later prompt starting with the same tokens reuses those blocks instead
/// of computing them again. The cache holds one reference on each block it records (blocks stay cached after their
/// sequence ends) and gives the least recently used ones back when the pool runs short. Not thread-safe: the scheduler
/// that owns it calls it from one thread.</summary>
internal sealed class PrefixCache
{
    private readonly KvBlockPool _pool;
    private readonly Dictionary<BlockKey, Node> _nodes = new();
    private long _nextId = 1, _clock;

    public PrefixCache(KvBlockPool pool) => _pool = pool;

    /// <summary>Blocks the cache records (each holds a reference).</summary>
    public int Count => _nodes.Count;

    /// <summary>Recorded blocks no sequence holds (only the cache): what <see cref="Evict"/> can free.</summary>
    public int Evictable => _nodes.Values.Count(v => _pool.Allocator.RefCount(v.Block) == 1);

    /// <summary>The recorded blocks (and their nodes, which <see cref="Record"/> continues a chain from) that hold the
    /// longest run of whole blocks at the start of <paramref name="tokens"/>, in order.</summary>
    public List<(int Block, long Node)> Match(ReadOnlySpan<int> tokens)
    {
        int bs = _pool.BlockSize;
        var blocks = new List<(int, long)>();
        long parent = 0;
        for (int j = 0; (j + 1) * bs <= tokens.Length; j++)
        {
            if (!_nodes.TryGetValue(new BlockKey(parent, tokens.Slice(j * bs, bs).ToArray()), out var node)) break;
            node.LastUsed = ++_clock;
            blocks.Add((node.Block, node.Id));
            parent = node.Id;
        }
        return blocks;
    }

    /// <summary>Records the full blocks of a sequence past the first <paramref name="recorded"/> (the tokens whose keys
    /// are stored, in order); returns how many of its blocks are now recorded or matched. <paramref name="parent"/>
    /// carries the chain from one call to the next.</summary>
    public int Record(SequenceKv sequence, ReadOnlySpan<int> tokens, int recorded, ref long parent)
    {
        int bs = _pool.BlockSize, full = Math.Min(sequence.Length, tokens.Length) / bs;
        for (int j = recorded; j < full; j++)
        {
            var key = new BlockKey(parent, tokens.Slice(j * bs, bs).ToArray());
            if (!_nodes.TryGetValue(key, out var node))
            {
                // Another sequence may already have recorded the same tokens in another block: keep the first.
                int block = sequence.Blocks[j];
                _pool.Allocator.AddRef(block);
                _nodes.Add(key, node = new Node(_nextId++, block));
            }
            node.LastUsed = ++_clock;
            parent = node.Id;
        }
        return Math.Max(recorded, full);
    }

    /// <summary>Frees up to <paramref name="blocks"/> recorded blocks that no sequence holds, least recently used first;
    /// returns how many were freed. A block's descendants stay recorded but can no longer be matched (a match walks
    /// from the first block), so they age out in turn.</summary>
    public int Evict(int blocks)
    {
        if (blocks <= 0) return 0;
        var victims = _nodes.Where(kv => _pool.Allocator.RefCount(kv.Value.Block) == 1)
            .OrderBy(kv => kv.Value.LastUsed).Take(blocks).ToList();
        foreach (var (key, node) in victims)
        {
            _nodes.Remove(key);
            _pool.Allocator.Release(node.Block);
        }
        return victims.Count;
    }

    /// <summary>Gives every recorded block back.</summary>
    public void Clear()
    {
        foreach (var node in _nodes.Values) _pool.Allocator.Release(node.Block);
        _nodes.Clear();
    }

    private sealed class Node(long id, int block)
    {
        public long Id { get; } = id;
        public int Block { get; } = block;
        public long LastUsed { get; set; }
    }

    // A block's identity: the node of the block before it (0 for a first block) and the tokens it holds. Node ids are
    // never reused, so a key cannot match a chain whose earlier block was evicted and refilled.
    private readonly struct BlockKey(long parent, int[] tokens) : IEquatable<BlockKey>
    {
        private readonly long _parent = parent;
        private readonly int[] _tokens = tokens;
        private readonly int _hash = Hash(parent, tokens);

        public bool Equals(BlockKey other) => _parent == other._parent && _tokens.AsSpan().SequenceEqual(other._tokens);
        public override bool Equals(object? obj) => obj is BlockKey k && Equals(k);
        public override int GetHashCode() => _hash;

        private static int Hash(long parent, int[] tokens)
        {
            var h = new HashCode();
            h.Add(parent);
            foreach (int t in tokens) h.Add(t);
            return h.ToHashCode();
        }
    }
}
