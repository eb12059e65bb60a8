using Tessera.Attention;
using Tessera.Models.Generation.Batching;

namespace Tessera.Models;

// Continuous batching: several sequences, each with its own positions and its own paged KV blocks, in one forward.
public sealed partial class Llama
{
    /// <summary>A paged KV block pool shaped for this model: <paramref name="numBlocks"/> blocks of
    /// <paramref name="blockSize"/> positions per layer (f32, zeroed). Sequences come from
    /// <see cref="KvBlockPool.CreateSequence()"/> and run through <see cref="ForwardBatch"/>.</summary>
    public KvBlockPool CreateBlockPool(int numBlocks, int blockSize = 16) =>
        new(Backend, Blocks.Count, numBlocks, Config.KvHeads, blockSize, Config.HeadDimension);

    /// <summary>One forward over several sequences at once: sequence i continues with the next
    /// <paramref name="counts"/>[i] ids of <paramref name="tokens"/> (all sequences' new ids back to back), at its own
    /// positions, its keys and values stored in its own blocks. The projections and the feed-forward layers run over
    /// every new token's row together; attention runs per sequence through the engine's paged attention. Returns the
    /// logits of each sequence's last new token, [N, vocab]. Decoding passes one token per sequence; a joining
    /// request's prompt can run alone (N = 1) or beside decoding sequences. When the pool lacks the blocks this step
    /// needs it throws <see cref="KvCacheFullException"/> before any sequence has changed.</summary>
    public Tensor ForwardBatch(IReadOnlyList<SequenceKv> sequences, ReadOnlySpan<int> tokens, ReadOnlySpan<int> counts)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        int n = sequences.Count;
        if (n == 0) throw new TesseraException("llama batch: no sequences to run");
        if (counts.Length != n) throw new TesseraException($"llama batch: {counts.Length} token counts for {n} sequences");
        var pool = sequences[0].Pool;
        if (pool.Layers != Blocks.Count || pool.KvHeads != Config.KvHeads || pool.HeadDim != Config.HeadDimension)
            throw new TesseraException($"llama batch: the KV pool ({pool.Layers} layers, {pool.KvHeads} kv heads of {pool.HeadDim}) does not fit the model ({Blocks.Count} layers, {Config.KvHeads} kv heads of {Config.HeadDimension})");
        var starts = new int[n];
        var countArr = counts.ToArray();
        long total = 0;
        for (int i = 0; i < n; i++)
        {
            var s = sequences[i];
            if (!ReferenceEquals(s.Pool, pool)) throw new TesseraException($"llama batch: sequence {i} belongs to another KV pool");
            if (countArr[i] <= 0) throw new TesseraException($"llama batch: sequence {i} has {countArr[i]} new tokens (at least 1)");
            if (s.Length + countArr[i] > ContextLength)
                throw new TesseraException($"llama batch: sequence {i} has {s.Length} cached + {countArr[i]} new tokens, past the context of {ContextLength} positions");
            for (int j = 0; j < i; j++)
                if (ReferenceEquals(sequences[j], s)) throw new TesseraException($"llama batch: sequences {j} and {i} are the same sequence");
            starts[i] = s.Length;
            total += countArr[i];
        }
        if (total != tokens.Length) throw new TesseraException($"llama batch: the counts add up to {total} tokens, but {tokens.Length} were given");

        using var x = Embeddings(tokens);   // names a bad id before any sequence moves
        Reserve(pool, sequences, countArr);
        var positions = new int[tokens.Length];
        for (int i = 0, r = 0; i < n; i++)
            for (int j = 0; j < countArr[i]; j++) positions[r++] = starts[i] + j;
        using var pos = Tensor.FromArray(Backend, positions, positions.Length);
        using var kv = new PagedBatchKv(pool, sequences, starts, countArr);
        using var logits = ForwardEmbeddings(x, pos, kv, lastOnly: n == 1);
        int vocab = logits.Dim(2);
        if (logits.Dim(1) == n) return logits.Reshape(n, vocab);
        var last = new int[n];
        for (int i = 0, end = 0; i < n; i++) last[i] = (end += countArr[i]) - 1;
        using var rows = logits.Reshape(logits.Dim(1), vocab);
        using var ids = Tensor.FromArray(Backend, last, n);
        return rows.IndexSelect(0, ids);
    }

    // Extends every sequence by its count, or none of them: the blocks all of them need (fresh blocks, plus a copy for
    // a shared, partly filled last block) are counted against the free list first.
    private static void Reserve(KvBlockPool pool, IReadOnlyList<SequenceKv> sequences, int[] counts)
    {
        int bs = pool.BlockSize, needed = 0;
        for (int i = 0; i < sequences.Count; i++)
        {
            var s = sequences[i];
            bool cow = s.Length % bs != 0 && pool.Allocator.RefCount(s.Blocks[^1]) > 1;
            needed += (s.Length + counts[i] + bs - 1) / bs - s.Blocks.Count + (cow ? 1 : 0);
        }
        int free = pool.Allocator.FreeCount;
        if (needed > free) throw new KvCacheFullException(needed, free, pool.Allocator.Count);
        for (int i = 0; i < sequences.Count; i++) sequences[i].Extend(counts[i]);
    }
}
