using Tessera.Attention;
using Tessera.Models.Nn;

namespace Tessera.Models.Generation.Batching;

/// <summary>The KV cache one batched forward sees: several sequences of a <see cref="KvBlockPool"/>, their new tokens
/// side by side as the rows of one [1, T, dim] activation (sequence i owns rows Row0[i] .. Row0[i] + Count[i] - 1,
/// already reserved by <see cref="SequenceKv.Extend"/>). Each layer writes every sequence's new keys and values into
/// its own blocks, then runs the engine's paged attention over all sequences in one call, each over its own blocks and
/// length. Attention is computed per (sequence, kv head) unit, so a sequence's result does not depend on the others.</summary>
internal sealed class PagedBatchKv : IAttendingKvCache, IDisposable
{
    private readonly IReadOnlyList<SequenceKv> _sequences;
    private readonly int[] _starts, _counts, _rows;
    private readonly KvBlockPool _pool;
    private readonly Tensor _tables, _lengths;
    private readonly Tensor? _queryLengths;
    private readonly int _maxCount;

    /// <param name="pool">The pool every sequence belongs to.</param>
    /// <param name="sequences">The sequences, each already extended by its count.</param>
    /// <param name="starts">Each sequence's length before this step (the position of its first new token).</param>
    /// <param name="counts">New tokens per sequence (at least 1).</param>
    public PagedBatchKv(KvBlockPool pool, IReadOnlyList<SequenceKv> sequences, int[] starts, int[] counts)
    {
        (_pool, _sequences, _starts, _counts) = (pool, sequences, starts, counts);
        _rows = new int[counts.Length];
        for (int i = 1; i < counts.Length; i++) _rows[i] = _rows[i - 1] + counts[i - 1];
        _maxCount = counts.Max();
        (_tables, _lengths) = pool.BatchTables(sequences);
        if (counts.Any(c => c != _maxCount)) _queryLengths = Tensor.FromArray(pool.Backend, counts, counts.Length);
    }

    /// <summary>The longest sequence's length before this step (positions are passed explicitly, so attention layers
    /// do not read it).</summary>
    public int Length(int layer) => _starts.Max();

    /// <summary>Not supported: a batched forward attends over the pool (<see cref="AppendAndAttend"/>).</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v) =>
        throw new TesseraException("batched paged forward: keys are not gathered; attention runs over the block pool (an attention mask is not supported here)");

    /// <inheritdoc/>
    public Tensor AppendAndAttend(int layer, Tensor q, Tensor k, Tensor v, AttentionOptions options)
    {
        int t = _rows[^1] + _counts[^1];
        if (q.Rank != 4 || q.Dim(0) != 1 || q.Dim(2) != t || k.Rank != 4 || k.Dim(0) != 1 || k.Dim(2) != t)
            throw new TesseraException($"batched paged forward: q {q.Shape} and k {k.Shape} must be [1, H, {t}, D] (the batch's {t} new tokens side by side)");
        using (var k3 = k.Select(0, 0))
        using (var v3 = v.Select(0, 0))
            for (int i = 0; i < _sequences.Count; i++)
            {
                using var ks = k3.Narrow(1, _rows[i], _counts[i]);
                using var vs = v3.Narrow(1, _rows[i], _counts[i]);
                _sequences[i].Write(layer, _starts[i], ks, vs);
            }
        int n = _sequences.Count, h = q.Dim(1), d = q.Dim(3);
        if (_queryLengths is null)
        {
            // Every sequence has the same count c: rows i*c .. i*c + c - 1 are sequence i, so [1, H, T, D] is
            // [H, N, c, D] and a permuted view gives the [N, H, c, D] the op takes.
            using var qh = q.Reshape(h, n, _maxCount, d);
            using var qn = qh.Permute(1, 0, 2, 3);
            using var o = qn.PagedAttention(_pool.Keys(layer), _pool.Values(layer), _tables, _lengths, options);
            using var oh = o.Permute(1, 0, 2, 3);
            return oh.Reshape(1, h, t, d);
        }
        // Different counts: each sequence's queries padded to the longest, queryLens says how many are real.
        using var q3 = q.Select(0, 0);
        using var padded = Tensor.Zeros(q.Backend, q.DType, new Shape(n, h, _maxCount, d));
        for (int i = 0; i < n; i++)
        {
            using var from = q3.Narrow(1, _rows[i], _counts[i]);
            using var row = padded.Select(0, i);
            using var to = row.Narrow(1, 0, _counts[i]);
            from.CopyInto(to);
        }
        using var out4 = padded.PagedAttention(_pool.Keys(layer), _pool.Values(layer), _tables, _lengths, options, _queryLengths);
        var result = Tensor.Empty(q.Backend, q.DType, new Shape(1, h, t, d));
        using var r3 = result.Select(0, 0);
        for (int i = 0; i < n; i++)
        {
            using var row = out4.Select(0, i);
            using var from = row.Narrow(1, 0, _counts[i]);
            using var to = r3.Narrow(1, _rows[i], _counts[i]);
            from.CopyInto(to);
        }
        return result;
    }

    public void Dispose()
    {
        _tables.Dispose();
        _lengths.Dispose();
        _queryLengths?.Dispose();
    }
}
