namespace Tessera.Attention;

/// <summary>One sequence's view of a <see cref="KvBlockPool"/>: its block table (token t lives in block
/// Blocks[t / blockSize], slot t % blockSize) and length. <see cref="Extend"/> makes room for new tokens (taking
/// blocks, and copying a shared, partly filled last block first: copy on write), <see cref="Write"/> stores their
/// K/V for a layer, <see cref="Fork"/> shares every block with a new sequence (prefix sharing), and
/// <see cref="Dispose"/> releases the blocks. Not thread-safe per sequence (the allocator is).</summary>
public sealed class SequenceKv : IDisposable
{
    private readonly List<int> _blocks;
    private bool _disposed;

    internal SequenceKv(KvBlockPool pool, List<int> blocks, int length)
    {
        Pool = pool;
        _blocks = blocks;
        Length = length;
    }

    /// <summary>The pool the blocks belong to.</summary>
    public KvBlockPool Pool { get; }

    /// <summary>Tokens stored (or reserved by <see cref="Extend"/>).</summary>
    public int Length { get; private set; }

    /// <summary>The block table.</summary>
    public IReadOnlyList<int> Blocks => _blocks;

    /// <summary>Reserves positions [Length, Length + tokens) for every layer and returns the first. Takes the blocks the
    /// new tokens need, and first replaces a shared, partly filled last block by a private copy so that the new tokens
    /// do not show up in the sequences it is shared with. All or nothing: when the pool has too few free blocks it
    /// throws <see cref="KvCacheFullException"/> and nothing has changed.</summary>
    public int Extend(int tokens)
    {
        ThrowIfDisposed();
        if (tokens < 0) throw new TesseraException($"cannot extend a sequence by {tokens} tokens");
        int bs = Pool.BlockSize, start = Length;
        var alloc = Pool.Allocator;
        bool cow = start % bs != 0 && tokens > 0 && alloc.RefCount(_blocks[^1]) > 1;
        int fresh = (start + tokens + bs - 1) / bs - _blocks.Count;
        var ids = alloc.Allocate(fresh + (cow ? 1 : 0)); // throws before anything changes
        if (cow)
        {
            int copy = ids[^1], shared = _blocks[^1];
            Pool.CopyBlock(shared, copy);
            _blocks[^1] = copy;
            alloc.Release(shared);
        }
        for (int i = 0; i < fresh; i++) _blocks.Add(ids[i]);
        Length = start + tokens;
        return start;
    }

    /// <summary>Stores K and V [Hkv, T, D] (any strides and float dtype) of one layer at positions [start, start + T),
    /// which <see cref="Extend"/> must have reserved. Writing into a block another sequence shares is refused.</summary>
    public void Write(int layer, int start, Tensor k, Tensor v)
    {
        ThrowIfDisposed();
        int bs = Pool.BlockSize;
        if (k.Rank != 3 || !k.Shape.Equals(v.Shape) || k.Dim(0) != Pool.KvHeads || k.Dim(2) != Pool.HeadDim)
            throw new TesseraException($"KV write: k {k.Shape} and v {v.Shape} must both be [Hkv = {Pool.KvHeads}, T, D = {Pool.HeadDim}]");
        int t = k.Dim(1);
        if (start < 0 || start + t > Length)
            throw new TesseraException($"KV write of {t} tokens at {start} is outside the {Length} positions reserved; call Extend first");
        if ((uint)layer >= (uint)Pool.Layers) throw new TesseraException($"layer {layer} is outside the pool's {Pool.Layers} layers");
        for (int p = start; p < start + t;)
        {
            int block = _blocks[p / bs], slot = p % bs, run = Math.Min(bs - slot, start + t - p);
            if (Pool.Allocator.RefCount(block) > 1)
                throw new TesseraException($"KV write at position {p}: block {block} is shared with a forked sequence (write only past the fork point, after Extend)");
            foreach (var (src, pool) in new[] { (k, Pool.Keys(layer)), (v, Pool.Values(layer)) })
            {
                using var from = src.Narrow(1, p - start, run);
                using var blk = pool.Select(0, block);
                using var to = blk.Narrow(1, slot, run);
                Pool.Backend.Copy(from, to);
            }
            p += run;
        }
    }

    /// <summary>Extends by T tokens and writes their K/V [Hkv, T, D] into layer 0 (a single-layer pool's one call).</summary>
    public int Append(Tensor k, Tensor v)
    {
        int start = Extend(k.Rank == 3 ? k.Dim(1) : throw new TesseraException($"KV append: k must be [Hkv, T, D], got {k.Shape}"));
        Write(0, start, k, v);
        return start;
    }

    /// <summary>A new sequence sharing every block (reference counts + 1) and the length; either may then extend,
    /// and a shared partly filled last block is copied by whichever writes into it first.</summary>
    public SequenceKv Fork()
    {
        ThrowIfDisposed();
        foreach (int b in _blocks) Pool.Allocator.AddRef(b);
        return new SequenceKv(Pool, [.. _blocks], Length);
    }

    /// <summary>Releases the blocks (a block returns to the free list when no sequence holds it).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (int b in _blocks) Pool.Allocator.Release(b);
        _blocks.Clear();
        Length = 0;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
