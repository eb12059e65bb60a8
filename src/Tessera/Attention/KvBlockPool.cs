namespace Tessera.Attention;

/// <summary>A paged KV cache on a backend: for each layer, K and V storage [numBlocks, Hkv, blockSize, D], plus the
/// <see cref="BlockAllocator"/> the layers share (as vLLM: a sequence's block table holds for every layer, so
/// blocks are allocated once per token step, not once per layer). Sequences are made with <see cref="CreateSequence()"/>.</summary>
public sealed class KvBlockPool : IDisposable
{
    private readonly Tensor[] _k, _v;

    /// <summary>Allocates the pool (zeroed).</summary>
    public KvBlockPool(IBackend backend, int layers, int numBlocks, int kvHeads, int blockSize, int headDim, DType dtype = DType.F32)
    {
        if (layers <= 0 || numBlocks <= 0 || kvHeads <= 0 || blockSize <= 0 || headDim <= 0)
            throw new TesseraException($"a KV block pool needs positive sizes, got {layers} layers, {numBlocks} blocks, {kvHeads} kv heads, block size {blockSize}, head dim {headDim}");
        if (!dtype.IsFloat()) throw new TesseraException($"a KV block pool stores f32, f16 or bf16, not {dtype.Name()}");
        Backend = backend;
        BlockSize = blockSize;
        KvHeads = kvHeads;
        HeadDim = headDim;
        Allocator = new BlockAllocator(numBlocks);
        var shape = new Shape(numBlocks, kvHeads, blockSize, headDim);
        _k = new Tensor[layers];
        _v = new Tensor[layers];
        for (int l = 0; l < layers; l++) { _k[l] = Tensor.Zeros(backend, dtype, shape); _v[l] = Tensor.Zeros(backend, dtype, shape); }
    }

    /// <summary>The backend the storage lives on.</summary>
    public IBackend Backend { get; }

    /// <summary>Tokens a block holds.</summary>
    public int BlockSize { get; }

    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; }

    /// <summary>Head dimension.</summary>
    public int HeadDim { get; }

    /// <summary>Layers.</summary>
    public int Layers => _k.Length;

    /// <summary>The block ids and their reference counts.</summary>
    public BlockAllocator Allocator { get; }

    /// <summary>K storage of a layer, [numBlocks, Hkv, blockSize, D] (owned by the pool: do not dispose).</summary>
    public Tensor Keys(int layer) => _k[layer];

    /// <summary>V storage of a layer, [numBlocks, Hkv, blockSize, D] (owned by the pool: do not dispose).</summary>
    public Tensor Values(int layer) => _v[layer];

    /// <summary>An empty sequence.</summary>
    public SequenceKv CreateSequence() => new(this, [], 0);

    /// <summary>A sequence that starts on blocks already holding its first <paramref name="length"/> tokens (prefix
    /// caching: the blocks of another sequence or of a prefix cache). Each block gains a holder, as in
    /// <see cref="SequenceKv.Fork"/>; a partly filled last block is copied before the new sequence writes into it.</summary>
    public SequenceKv CreateSequence(IReadOnlyList<int> sharedBlocks, int length)
    {
        ArgumentNullException.ThrowIfNull(sharedBlocks);
        int n = sharedBlocks.Count;
        if (length < 0 || length > (long)n * BlockSize || n > 0 && length <= (long)(n - 1) * BlockSize)
            throw new TesseraException($"a sequence of {length} tokens does not fill {n} shared blocks of {BlockSize} (each block must hold some of its tokens)");
        var taken = new List<int>(n);
        try
        {
            foreach (int b in sharedBlocks) { Allocator.AddRef(b); taken.Add(b); }
        }
        catch
        {
            foreach (int b in taken) Allocator.Release(b);
            throw;
        }
        return new SequenceKv(this, taken, length);
    }

    /// <summary>The block tables int32 [N, maxBlocks] (unused entries 0) and lengths int32 [N] of a batch of
    /// sequences, as <see cref="Tensor.PagedAttention"/> takes them.</summary>
    public (Tensor BlockTables, Tensor SeqLens) BatchTables(IReadOnlyList<SequenceKv> sequences)
    {
        int n = sequences.Count, max = 1;
        foreach (var s in sequences) max = Math.Max(max, s.Blocks.Count);
        var tables = new int[n * max];
        var lens = new int[n];
        for (int i = 0; i < n; i++)
        {
            var s = sequences[i];
            if (!ReferenceEquals(s.Pool, this)) throw new TesseraException($"sequence {i} belongs to another KV block pool");
            for (int j = 0; j < s.Blocks.Count; j++) tables[i * max + j] = s.Blocks[j];
            lens[i] = s.Length;
        }
        return (Tensor.FromArray(Backend, tables, n, max), Tensor.FromArray(Backend, lens, n));
    }

    /// <summary>Copies every layer's K and V of one block into another (copy on write).</summary>
    internal void CopyBlock(int from, int to)
    {
        for (int l = 0; l < Layers; l++)
            foreach (var t in new[] { _k[l], _v[l] })
            {
                using var src = t.Select(0, from);
                using var dst = t.Select(0, to);
                Backend.Copy(src, dst);
            }
    }

    /// <summary>Frees the storage.</summary>
    public void Dispose()
    {
        foreach (var t in _k) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
