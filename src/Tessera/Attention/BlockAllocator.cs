namespace Tessera.Attention;

/// <summary>Hands out the block ids of a paged KV cache: a free list and a reference count per block (a block shared
/// by forked sequences has a count above 1 and returns to the free list when the last holder releases it).
/// Thread-safe; <see cref="Allocate"/> is all or nothing.</summary>
public sealed class BlockAllocator
{
    private readonly Stack<int> _free;
    private readonly int[] _refs;
    private readonly Lock _lock = new();

    /// <summary>Creates an allocator of <paramref name="count"/> blocks, all free.</summary>
    public BlockAllocator(int count)
    {
        if (count <= 0) throw new TesseraException($"a block allocator needs at least one block, got {count}");
        _refs = new int[count];
        _free = new Stack<int>(Enumerable.Range(0, count).Reverse());
    }

    /// <summary>All blocks.</summary>
    public int Count => _refs.Length;

    /// <summary>Blocks on the free list.</summary>
    public int FreeCount { get { lock (_lock) return _free.Count; } }

    /// <summary>The reference count of a block (0: free).</summary>
    public int RefCount(int block) { lock (_lock) return _refs[Check(block)]; }

    /// <summary>Takes n free blocks (reference count 1 each), or throws <see cref="KvCacheFullException"/> taking none.</summary>
    public int[] Allocate(int n)
    {
        lock (_lock)
        {
            if (n > _free.Count) throw new KvCacheFullException(n, _free.Count, Count);
            var ids = new int[n];
            for (int i = 0; i < n; i++) { ids[i] = _free.Pop(); _refs[ids[i]] = 1; }
            return ids;
        }
    }

    /// <summary>One more holder of a block in use.</summary>
    public void AddRef(int block)
    {
        lock (_lock)
        {
            if (_refs[Check(block)] == 0) throw new TesseraException($"block {block} is free and cannot be shared");
            _refs[block]++;
        }
    }

    /// <summary>One holder fewer; the block returns to the free list when none is left.</summary>
    public void Release(int block)
    {
        lock (_lock)
        {
            if (_refs[Check(block)] == 0) throw new TesseraException($"block {block} is already free");
            if (--_refs[block] == 0) _free.Push(block);
        }
    }

    private int Check(int block) =>
        (uint)block < (uint)_refs.Length ? block : throw new TesseraException($"block {block} is outside the allocator's {_refs.Length} blocks");
}
