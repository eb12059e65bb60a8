using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Attention;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation.Batching;

namespace Tessera.Models.Generation;

/// <summary>Serves many generation requests at once over one <see cref="Llama"/> (continuous batching): requests
/// join between decode steps, every running request advances by one token per batched forward, finished ones leave and
/// free their KV blocks, and prompts that start with the same whole blocks as an earlier or running request reuse its
/// keys (prefix caching). Thread-safe: any thread may call <see cref="GenerateAsync"/>; one loop thread runs the model.
/// Each request has its own options, sampler and cancellation token; a request's greedy tokens do not depend on what
/// else is in the batch where the backend's matmul rows do not depend on the row count.</summary>
public sealed partial class Generator : IDisposable, IAsyncDisposable
{
    private readonly ConcurrentQueue<BatchSequence> _incoming = new();
    private readonly List<BatchSequence> _waiting = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly BatchScheduler _scheduler;
    private readonly KvBlockPool _pool;
    private readonly GeneratorOptions _options;
    private readonly ILogger _logger;
    private readonly ITokenizer? _tokenizer;
    private readonly Thread _loop;
    private volatile bool _stopping;
    private volatile int _activeCount, _cachedBlocks;
    private long _nextId;
    private int _disposed;

    /// <summary>A generator over <paramref name="model"/> (the caller keeps owning the model and disposes it after the
    /// generator). <paramref name="tokenizer"/>, the model's, gives tokens their text and enables stop strings and
    /// grammar constraints. Allocates the KV pool and starts the loop thread.</summary>
    public Generator(Llama model, ITokenizer? tokenizer = null, GeneratorOptions? options = null, ILogger<Generator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new GeneratorOptions();
        options.Validate();
        if (tokenizer is not null && tokenizer.VocabSize != model.Config.VocabSize)
            throw new TesseraException($"generator: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary has {model.Config.VocabSize}");
        (Model, _tokenizer, _options, _logger) = (model, tokenizer, options, (ILogger?)logger ?? NullLogger.Instance);
        int context = model.ContextLength;
        long tokens = options.KvCacheTokens ?? Math.Max((long)options.MaxBatch * Math.Min(512, context), context);
        int blocks = checked((int)((tokens + options.BlockSize - 1) / options.BlockSize));
        _pool = model.CreateBlockPool(blocks, options.BlockSize);
        _scheduler = new BatchScheduler(model, _pool, options.PrefixCaching);
        _scheduler.Ended += OnEnded;
        _loop = new Thread(Loop) { IsBackground = true, Name = "tessera-generator" };
        _loop.Start();
    }

    /// <summary>The model generated from.</summary>
    public Llama Model { get; }

    /// <summary>KV blocks in the pool.</summary>
    public int TotalBlocks => _pool.Allocator.Count;

    /// <summary>KV blocks on the free list now.</summary>
    public int FreeBlocks => _pool.Allocator.FreeCount;

    /// <summary>KV blocks the prefix cache holds (as of the last step).</summary>
    public int CachedBlocks => _cachedBlocks;

    /// <summary>Requests decoding now (as of the last step).</summary>
    public int ActiveRequests => _activeCount;

    /// <summary>Prompt tokens whose keys came from the prefix cache instead of a forward, over all requests.</summary>
    public long ReusedPromptTokens => _scheduler.ReusedPromptTokens;

    /// <summary>Streams the tokens generated after <paramref name="prompt"/> (ids, BOS included when the model wants
    /// one), picked by the request's own <see cref="Sampling.SamplerChain"/> and stopped by <paramref name="options"/> as
    /// <see cref="TextGenerator"/> does (stop tokens, stop strings, the token limit, the end of the context); each token
    /// carries its released text when the generator has a tokenizer.
    /// <paramref name="cancellationToken"/> cancels this request only, and so does leaving the enumeration early; its
    /// blocks are freed at the next step boundary. <paramref name="stats"/>, when given, is filled in as it runs.</summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var s = Submit(prompt, options, stats ?? new GenerationStats(), cancellationToken);
        bool complete = false;
        using var wake = cancellationToken.Register(static g => ((Generator)g!).Wake(), this);
        try
        {
            await foreach (var token in s.Output.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();   // tokens already made are not handed out after a cancel
                yield return token;
            }
            complete = true;
        }
        finally
        {
            if (!complete)
            {
                s.Cancel();
                Wake();
            }
        }
    }

    /// <summary>Runs one request to its end and returns the ids (without the stop token).</summary>
    public async Task<IReadOnlyList<int>> GenerateAllAsync(IReadOnlyList<int> prompt, GenerationOptions options,
        GenerationStats? stats = null, CancellationToken cancellationToken = default)
    {
        var tokens = new List<int>();
        await foreach (var t in GenerateAsync(prompt, options, stats, cancellationToken).ConfigureAwait(false)) tokens.Add(t.Id);
        return tokens;
    }

    private BatchSequence Submit(IReadOnlyList<int> prompt, GenerationOptions options, GenerationStats stats, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        options.Validate();
        if (_tokenizer is null && (options.StopStrings.Count > 0 || options.Constraint is not null))
            throw new TesseraException("generation: stop strings and grammar constraints need the model's tokenizer (the Generator's tokenizer argument)");
        if (prompt.Count == 0) throw new TesseraException("generation: the prompt has no tokens");
        int context = Model.ContextLength, vocab = Model.Config.VocabSize;
        if (prompt.Count >= context && options.MaxTokens > 0 || prompt.Count > context)
            throw new TesseraException($"generation: the prompt's {prompt.Count} tokens leave no room in the model's context of {context} positions");
        var ids = prompt.ToArray();
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab) throw new TesseraException($"generation: prompt token {i} is id {ids[i]}, outside the vocabulary of {vocab}");
        cancellationToken.ThrowIfCancellationRequested();
        int capacity = Math.Min(context, ids.Length + options.MaxTokens);
        var s = new BatchSequence(Interlocked.Increment(ref _nextId), ids, options, stats, capacity, _tokenizer, cancellationToken);
        if (options.MaxTokens == 0)
        {
            stats.Stop = StopReason.Length;
            s.Output.Writer.TryComplete();
            return s;
        }
        int need = _scheduler.BlocksFor(s);
        if (need > TotalBlocks)
            throw new TesseraException($"generation: a request of {ids.Length} prompt + {options.MaxTokens} new tokens needs {need} KV blocks of {_options.BlockSize}, the pool has {TotalBlocks} (raise GeneratorOptions.KvCacheTokens)");
        _incoming.Enqueue(s);
        // Disposed meanwhile: the loop may have drained its queue for the last time.
        if (_stopping) s.Output.Writer.TryComplete(new ObjectDisposedException(nameof(Generator)));
        Wake();
        return s;
    }

    // Wakes the loop (new work, or a cancel to act on); a no-op once the generator is disposed.
    private void Wake()
    {
        if (_stopping) return;
        try { _wake.Release(); }
        catch (ObjectDisposedException) { }
    }

    // The loop thread: take new requests, drop cancelled ones, admit what fits, run one decode step; sleep when idle.
    private void Loop()
    {
        while (true)
        {
            while (_incoming.TryDequeue(out var s)) _waiting.Add(s);
            if (_stopping) break;
            try
            {
                foreach (var s in _waiting.Where(w => w.IsCancelled).ToArray())
                {
                    _waiting.Remove(s);
                    s.Output.Writer.TryComplete(new OperationCanceledException("the request was cancelled", s.CancellationToken));
                }
                _scheduler.DropCancelled();
                // First come, first served: admission stops at the first request that does not fit yet.
                while (_waiting.Count > 0 && _scheduler.Active.Count < _options.MaxBatch && _scheduler.HasRoomFor(_waiting[0]))
                {
                    var s = _waiting[0];
                    _waiting.RemoveAt(0);
                    long before = _scheduler.ReusedPromptTokens;
                    _scheduler.Admit(s);
                    LogAdmitted(s.Id, s.Prompt.Length, (int)(_scheduler.ReusedPromptTokens - before), _scheduler.Active.Count);
                }
                _scheduler.Step();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogLoopError(e);
                _scheduler.EndAll(e);
            }
            (_activeCount, _cachedBlocks) = (_scheduler.Active.Count, _scheduler.CachedBlocks);
            if (_scheduler.Active.Count == 0) _wake.Wait();
        }
        var stopped = new ObjectDisposedException(nameof(Generator));
        foreach (var s in _waiting) s.Output.Writer.TryComplete(stopped);
        _waiting.Clear();
        _scheduler.Dispose();
        (_activeCount, _cachedBlocks) = (0, 0);
    }

    private void OnEnded(BatchSequence s, StopReason? stop, Exception? error)
    {
        // Counters first: a consumer that sees its request end sees the blocks it gave back.
        (_activeCount, _cachedBlocks) = (_scheduler.Active.Count, _scheduler.CachedBlocks);
        if (error is null) LogFinished(s.Id, s.Stats.GeneratedTokens, stop);
        else if (error is OperationCanceledException) LogCancelled(s.Id, s.Stats.GeneratedTokens);
        else LogFailed(error, s.Id);
    }

    /// <summary>Stops the loop after its current step: running and waiting requests end with
    /// <see cref="ObjectDisposedException"/>, and the KV pool is freed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping = true;
        _wake.Release();
        _loop.Join();
        _pool.Dispose();
        _wake.Dispose();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "request {Id} admitted: {PromptTokens} prompt tokens, {ReusedTokens} from the prefix cache, {Active} running")]
    private partial void LogAdmitted(long id, int promptTokens, int reusedTokens, int active);

    [LoggerMessage(Level = LogLevel.Debug, Message = "request {Id} finished: {Tokens} tokens ({Stop})")]
    private partial void LogFinished(long id, int tokens, StopReason? stop);

    [LoggerMessage(Level = LogLevel.Debug, Message = "request {Id} cancelled after {Tokens} tokens")]
    private partial void LogCancelled(long id, int tokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "request {Id} failed")]
    private partial void LogFailed(Exception error, long id);

    [LoggerMessage(Level = LogLevel.Error, Message = "the generation loop failed; the running requests end with the error")]
    private partial void LogLoopError(Exception error);
}
