namespace Tessera;

/// <summary>Disposes, in bulk, every tensor made while it is the innermost open scope of the current flow of
/// control, except those handed out with <see cref="Keep"/>. Scopes nest. The current scope is an
/// <see cref="AsyncLocal{T}"/>, so it follows async code: a tensor made after an <c>await</c> that resumed on another
/// thread is tracked by the scope that was open before the await, and the scope may be disposed there. A scope opened
/// inside an async method is not seen by its caller once the method has yielded (the caller keeps its own scope), and
/// tasks started inside a scope track into it too (tracking is thread-safe).</summary>
/// <example><code>
/// using (var scope = TensorScope.Begin())
/// {
///     var h = x.MatMul(w);            // freed when the scope ends
///     await Task.Yield();             // may resume on another thread: still this scope
///     result = scope.Keep(h.Gelu());  // survives it
/// }
/// </code></example>
public sealed class TensorScope : IDisposable
{
    private static readonly AsyncLocal<TensorScope?> s_current = new();
    private readonly TensorScope? _parent;
    private readonly List<Tensor> _tensors = [];
    private bool _disposed;

    private TensorScope()
    {
        _parent = s_current.Value;
        s_current.Value = this;
    }

    /// <summary>Opens a scope in the current flow (thread, or async method and its continuations).</summary>
    public static TensorScope Begin() => new();

    internal static void Track(Tensor t) => s_current.Value?.Add(t);

    private void Add(Tensor t)
    {
        lock (_tensors)
        {
            // A task that outlived its scope makes tensors its caller owns.
            if (!_disposed) _tensors.Add(t);
        }
    }

    /// <summary>Removes a tensor from this scope and hands it to the enclosing one (or to the caller).</summary>
    public Tensor Keep(Tensor t)
    {
        lock (_tensors)
        {
            int i = _tensors.LastIndexOf(t);
            if (i < 0) throw new TesseraException($"{t} was not made in this scope");
            _tensors.RemoveAt(i);
        }
        _parent?.Add(t);
        return t;
    }

    /// <summary>Disposes every tensor still tracked and closes the scope.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (s_current.Value != this)
            throw new InvalidOperationException("tensor scopes must be disposed innermost first, in the flow (thread or async method) that opened them");
        s_current.Value = _parent;
        Tensor[] tensors;
        lock (_tensors)
        {
            _disposed = true;
            tensors = [.. _tensors];
            _tensors.Clear();
        }
        foreach (var t in tensors) t.Dispose();
    }
}
