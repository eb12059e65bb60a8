using System.Diagnostics;
using Tessera.Attention;

namespace Tessera.Models.Generation.Batching;

/// <summary>Continuous batching over one <see cref="KvBlockPool"/>: requests are admitted between steps (their prompt
/// runs as a forward of its own, starting after whatever whole blocks the prefix cache already holds), then every
/// admitted request advances by one token per <see cref="Step"/> in one batched forward; a finished or cancelled
/// request leaves and its blocks go back. Admission reserves the blocks a request can need for its whole run, so a
/// decode step never runs out of blocks (recorded prefix blocks that no request holds are evicted when the free list
/// runs short). Not thread-safe: <see cref="Generator"/> drives it from its one loop thread.</summary>
internal sealed class BatchScheduler : IDisposable
{
    private readonly Llama _model;
    private readonly PrefixCache? _prefixes;
    private readonly List<BatchSequence> _active = [];
    private float[] _logits = [];
    private int _reserved;

    public BatchScheduler(Llama model, KvBlockPool pool, bool prefixCaching)
    {
        (_model, Pool) = (model, pool);
        if (prefixCaching) _prefixes = new PrefixCache(pool);
    }

    /// <summary>The block pool.</summary>
    public KvBlockPool Pool { get; }

    /// <summary>Requests decoding now.</summary>
    public IReadOnlyList<BatchSequence> Active => _active;

    /// <summary>Blocks the prefix cache records.</summary>
    public int CachedBlocks => _prefixes?.Count ?? 0;

    private long _reusedPromptTokens;

    /// <summary>Prompt tokens whose keys were reused from the prefix cache instead of computed, over all requests
    /// (readable from any thread).</summary>
    public long ReusedPromptTokens => Interlocked.Read(ref _reusedPromptTokens);

    /// <summary>Called with each request as it ends (finished, failed or cancelled), after its blocks are back and
    /// before its consumer sees the end.</summary>
    public event Action<BatchSequence, StopReason?, Exception?>? Ended;

    /// <summary>Blocks a request needs for its whole run: its capacity, plus one for a copy on write.</summary>
    public int BlocksFor(BatchSequence s) => (s.Capacity + Pool.BlockSize - 1) / Pool.BlockSize + 1;

    /// <summary>Whether the request's blocks can be reserved now.</summary>
    public bool HasRoomFor(BatchSequence s) => _reserved + BlocksFor(s) <= Pool.Allocator.Count;

    /// <summary>Admits a request (the caller checked <see cref="HasRoomFor"/>): shares the whole blocks the prefix cache
    /// holds for its prompt, runs the rest of the prompt and emits its first token. Errors end only this request.</summary>
    public void Admit(BatchSequence s)
    {
        s.ReservedBlocks = BlocksFor(s);
        _reserved += s.ReservedBlocks;
        _active.Add(s);
        try
        {
            int bs = Pool.BlockSize;
            var matched = _prefixes?.Match(s.Prompt) ?? [];
            // At least the last prompt token runs (its logits give the first token); when the whole prompt is cached,
            // its last block is shared partly filled and copied on the first write.
            int reused = Math.Min(matched.Count * bs, s.Prompt.Length - 1);
            int shared = (reused + bs - 1) / bs;
            s.Kv = Pool.CreateSequence(matched.Take(shared).Select(m => m.Block).ToList(), reused);
            s.RecordedBlocks = reused / bs;
            s.PrefixParent = s.RecordedBlocks > 0 ? matched[s.RecordedBlocks - 1].Node : 0;
            Interlocked.Add(ref _reusedPromptTokens, reused);
            long t0 = Stopwatch.GetTimestamp();
            Forward([s], s.Prompt.AsSpan(reused), [s.Prompt.Length - reused]);
            s.Stats.PrefillSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            Accept(s, _logits.AsSpan(0, _model.Config.VocabSize));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            End(s, null, e);
        }
    }

    /// <summary>One decode step: every active request's pending token in one batched forward, then a token for each.
    /// A forward that fails ends every request in it with the error.</summary>
    public void Step()
    {
        if (_active.Count == 0) return;
        var batch = _active.ToArray();
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            var tokens = batch.Select(s => s.Next).ToArray();
            var counts = Enumerable.Repeat(1, batch.Length).ToArray();
            Forward(batch, tokens, counts);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            foreach (var s in batch) End(s, null, e);
            return;
        }
        int vocab = _model.Config.VocabSize;
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        for (int i = 0; i < batch.Length; i++)
        {
            var s = batch[i];
            s.Stats.DecodeSteps++;
            s.Stats.DecodeSeconds += seconds;
            try { Accept(s, _logits.AsSpan(i * vocab, vocab)); }
            catch (Exception e) when (e is not OutOfMemoryException) { End(s, null, e); }
        }
    }

    /// <summary>Ends the cancelled requests (their blocks go back).</summary>
    public void DropCancelled()
    {
        foreach (var s in _active.Where(s => s.IsCancelled).ToArray())
            End(s, null, new OperationCanceledException("the request was cancelled", s.CancellationToken));
    }

    /// <summary>Ends every request with <paramref name="error"/>.</summary>
    public void EndAll(Exception error)
    {
        foreach (var s in _active.ToArray()) End(s, null, error);
    }

    // Runs the forward (evicting unheld prefix blocks when the free list is short), copies the logits to the host and
    // records the sequences' newly filled blocks.
    private void Forward(BatchSequence[] batch, ReadOnlySpan<int> tokens, ReadOnlySpan<int> counts)
    {
        var kvs = batch.Select(s => s.Kv!).ToArray();
        Tensor logits;
        using (var scope = TensorScope.Begin())
        {
            try { logits = _model.ForwardBatch(kvs, tokens, counts); }
            catch (KvCacheFullException full) when (_prefixes is not null && _prefixes.Evict(full.Needed - full.Free) > 0)
            {
                logits = _model.ForwardBatch(kvs, tokens, counts);
            }
            using (logits)
            {
                int n = checked((int)logits.ElementCount);
                if (_logits.Length < n) _logits = new float[n];
                logits.CopyTo<float>(_logits.AsSpan(0, n));
            }
        }
        if (_prefixes is null) return;
        foreach (var s in batch)
            s.RecordedBlocks = _prefixes.Record(s.Kv!, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.Tokens), s.RecordedBlocks, ref s.PrefixParent);
    }

    // Picks the request's next token from its logits row (its own chain), as TextGenerator does: a stop token ends
    // the request unseen; otherwise the token streams out with its released text, and the request ends at a stop
    // string, its token limit or when its cache is full.
    private void Accept(BatchSequence s, Span<float> logits)
    {
        long t0 = Stopwatch.GetTimestamp();
        int token = s.Sampler.Sample(logits);
        s.Stats.SamplingSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        var detok = s.Detokenizer;
        if (s.Options.StopTokens.Contains(token))
        {
            if (detok is not null) s.Stats.TrailingText = s.Stops.Push(detok.Flush()) + s.Stops.Flush();
            Finish(s, StopReason.Eos);
            return;
        }
        s.Sampler.Accept(token);
        int index = s.Stats.GeneratedTokens;
        s.Tokens.Add(token);
        s.Stats.GeneratedTokens = index + 1;
        string text = detok is null ? "" : s.Stops.Push(detok.Push(token));
        StopReason? stop = null;
        if (s.Stops.Matched is not null) stop = StopReason.StopString;
        else if (index + 1 >= s.Options.MaxTokens || s.Kv!.Length >= s.Capacity)
        {
            if (detok is not null) s.Stats.TrailingText = s.Stops.Push(detok.Flush()) + s.Stops.Flush();
            stop = s.Stops.Matched is null ? StopReason.Length : StopReason.StopString;
        }
        s.Output.Writer.TryWrite(new GeneratedToken(token, index) { Text = text });
        if (stop is { } reason) Finish(s, reason);
        else s.Next = token;
    }

    private void Finish(BatchSequence s, StopReason reason) => End(s, reason, null);

    private void End(BatchSequence s, StopReason? stop, Exception? error)
    {
        if (!_active.Remove(s)) return;
        _reserved -= s.ReservedBlocks;
        s.Kv?.Dispose();
        s.Stats.Stop = stop;
        Ended?.Invoke(s, stop, error);
        s.Output.Writer.TryComplete(error);
    }

    /// <summary>Ends what is still running and gives the prefix cache's blocks back (the pool is the caller's).</summary>
    public void Dispose()
    {
        EndAll(new ObjectDisposedException(nameof(Generator)));
        _prefixes?.Clear();
    }
}
