using Tessera.Models.Nn;

namespace Tessera.Models.Generation;

/// <summary>A paged KV cache (vLLM's layout): per layer, one pool of fixed-size blocks [NumBlocks, KvHeads, BlockSize,
/// HeadDim] for keys and one for values, and per sequence a table of the blocks it holds, taken from a free list as it
/// grows. Attention runs over the pools through <see cref="Tensor.PagedAttention"/>, so stored keys are never copied
/// into one tensor. The sequences of a batch advance together (each call appends the same number of positions).</summary>
public sealed class PagedKvCache : IAttendingKvCache, IDisposable
{
    private readonly Tensor[] _k, _v;
    private readonly int[] _length;
    private readonly int[][] _tables;   // [sequence][block index in sequence] -> pool block (-1: none yet)
    private readonly Stack<int> _free = new();
    private readonly IBackend _backend;

    /// <summary>Positions in one block.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks in each layer's pool.</summary>
    public int NumBlocks { get; }

    /// <summary>Sequences in the batch.</summary>
    public int Batch { get; }

    /// <summary>Longest sequence the block tables can describe.</summary>
    public int MaxLength { get; }

    /// <summary>Allocates the pools (uninitialised: only written slots are read).</summary>
    public PagedKvCache(IBackend backend, int layers, int batch, int kvHeads, int headDim, int maxLength, int blockSize = 16, int? numBlocks = null, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (layers <= 0 || batch <= 0 || kvHeads <= 0 || headDim <= 0 || maxLength <= 0 || blockSize <= 0)
            throw new TesseraException($"paged kv cache: sizes must be positive (layers {layers}, batch {batch}, kv heads {kvHeads}, head dim {headDim}, max length {maxLength}, block size {blockSize})");
        int perSequence = (maxLength + blockSize - 1) / blockSize;
        NumBlocks = numBlocks ?? checked(perSequence * batch);
        if (NumBlocks <= 0) throw new TesseraException($"paged kv cache: {NumBlocks} blocks");
        (_backend, BlockSize, Batch, MaxLength) = (backend, blockSize, batch, maxLength);
        _k = new Tensor[layers];
        _v = new Tensor[layers];
        _length = new int[layers];
        _tables = new int[layers * batch][];
        for (int i = 0; i < _tables.Length; i++) _tables[i] = Enumerable.Repeat(-1, perSequence).ToArray();
        // Layers share block numbers (block j of sequence b is the same index in every layer's pool).
        for (int blk = NumBlocks - 1; blk >= 0; blk--) _free.Push(blk);
        var shape = new Shape(NumBlocks, kvHeads, blockSize, headDim);
        try
        {
            for (int l = 0; l < layers; l++)
            {
                _k[l] = Tensor.Empty(backend, dtype, shape);
                _v[l] = Tensor.Empty(backend, dtype, shape);
            }
        }
        catch { Dispose(); throw; }
    }

    /// <inheritdoc/>
    public int Length(int layer) => _length[CheckLayer(layer)];

    /// <summary>Blocks not yet given to a sequence.</summary>
    public int FreeBlocks => _free.Count;

    /// <inheritdoc/>
    public Tensor AppendAndAttend(int layer, Tensor q, Tensor k, Tensor v, AttentionOptions options)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(options);
        Store(layer, k, v);
        int maxBlocks = _tables[0].Length;
        var table = new int[Batch * maxBlocks];
        for (int b = 0; b < Batch; b++) _tables[layer * Batch + b].CopyTo(table, b * maxBlocks);
        for (int i = 0; i < table.Length; i++) if (table[i] < 0) table[i] = 0; // past the length: never read
        using var tables = Tensor.FromArray(_backend, table, Batch, maxBlocks);
        using var lens = Tensor.FromArray(_backend, Enumerable.Repeat(_length[layer], Batch).ToArray(), Batch);
        return q.PagedAttention(_k[layer], _v[layer], tables, lens, options);
    }

    /// <summary>Stores k and v and returns every stored position gathered into new [B, KvHeads, Length, HeadDim]
    /// tensors (for callers that need the keys themselves; attention layers use <see cref="AppendAndAttend"/>).</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        Store(layer, k, v);
        return (Gather(_k[layer], layer), Gather(_v[layer], layer));
    }

    private void Store(int layer, Tensor k, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        var pool = _k[CheckLayer(layer)];
        bool fits = k.Rank == 4 && k.Shape.Equals(v.Shape) && k.Dim(0) == Batch && k.Dim(1) == pool.Dim(1) && k.Dim(3) == pool.Dim(3);
        if (!fits)
            throw new TesseraException($"paged kv cache layer {layer}: k {k.Shape} and v {v.Shape} must both be [{Batch}, {pool.Dim(1)}, S, {pool.Dim(3)}]");
        int at = _length[layer], s = k.Dim(2);
        if (at + s > MaxLength)
            throw new TesseraException($"paged kv cache layer {layer}: {at} stored + {s} new positions exceed the cache's {MaxLength}");
        for (int b = 0; b < Batch; b++)
        {
            var table = _tables[layer * Batch + b];
            for (int t = 0; t < s;)
            {
                int pos = at + t, slot = pos % BlockSize, n = Math.Min(BlockSize - slot, s - t);
                int blk = Block(layer, b, pos / BlockSize);
                foreach (var (src, dstPool) in new[] { (k, pool), (v, _v[layer]) })
                {
                    using var from = src.Narrow(0, b, 1);
                    using var fromT = from.Narrow(2, t, n);
                    using var to = dstPool.Narrow(0, blk, 1);
                    using var toT = to.Narrow(2, slot, n);
                    fromT.CopyInto(toT);
                }
                t += n;
            }
        }
        _length[layer] = at + s;
    }

    // The pool block of a sequence's j-th block: taken from the free list on first use. Layer 0 allocates; the other
    // layers reuse its numbers, so a position has the same block index in every layer.
    private int Block(int layer, int b, int j)
    {
        var own = _tables[layer * Batch + b];
        if (own[j] >= 0) return own[j];
        var first = _tables[b];
        if (first[j] < 0)
        {
            if (_free.Count == 0) throw new TesseraException($"paged kv cache: all {NumBlocks} blocks of {BlockSize} positions are in use");
            first[j] = _free.Pop();
        }
        return own[j] = first[j];
    }

    private Tensor Gather(Tensor pool, int layer)
    {
        int len = _length[layer];
        var outT = Tensor.Empty(_backend, pool.DType, new Shape(Batch, pool.Dim(1), len, pool.Dim(3)));
        for (int b = 0; b < Batch; b++)
            for (int p = 0; p < len; p += BlockSize)
            {
                int n = Math.Min(BlockSize, len - p);
                using var from = pool.Narrow(0, _tables[layer * Batch + b][p / BlockSize], 1);
                using var fromT = from.Narrow(2, 0, n);
                using var to = outT.Narrow(0, b, 1);
                using var toT = to.Narrow(2, p, n);
                fromT.CopyInto(toT);
            }
        return outT;
    }

    /// <summary>Forgets every sequence and returns all blocks to the free list (the pools stay allocated).</summary>
    public void Clear()
    {
        Array.Clear(_length);
        foreach (var t in _tables) Array.Fill(t, -1);
        _free.Clear();
        for (int blk = NumBlocks - 1; blk >= 0; blk--) _free.Push(blk);
    }

    /// <summary>Frees the pools.</summary>
    public void Dispose()
    {
        foreach (var t in _k) t?.Dispose();
        foreach (var t in _v) t?.Dispose();
    }

    private int CheckLayer(int layer) =>
        (uint)layer < (uint)_k.Length ? layer : throw new TesseraException($"paged kv cache: layer {layer} is outside 0..{_k.Length - 1}");
}
