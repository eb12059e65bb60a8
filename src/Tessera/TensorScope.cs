namespace Tessera;

/// <summary>Disposes, in bulk, every tensor made on this thread while it is the innermost open scope,
/// except those handed out with <see cref="Keep"/>. Scopes nest.</summary>
/// <example><code>
/// using (var scope = TensorScope.Begin())
/// {
///     var h = x.MatMul(w);            // freed when the scope ends
///     result = scope.Keep(h.Gelu());  // survives it
/// }
/// </code></example>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? s_current;
    private readonly TensorScope? _parent;
    private readonly List<Tensor> _tensors = [];
    private bool _disposed;

    private TensorScope() { _parent = s_current; s_current = this; }

    /// <summary>Opens a scope on this thread.</summary>
    public static TensorScope Begin() => new();

    internal static void Track(Tensor t) => s_current?._tensors.Add(t);

    /// <summary>Removes a tensor from this scope and hands it to the enclosing one (or to the caller).</summary>
    public Tensor Keep(Tensor t)
    {
        int i = _tensors.LastIndexOf(t);
        if (i < 0) throw new TesseraException($"{t} was not made in this scope");
        _tensors.RemoveAt(i);
        _parent?._tensors.Add(t);
        return t;
    }

    /// <summary>Disposes every tensor still tracked and closes the scope.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (s_current != this) throw new InvalidOperationException("tensor scopes must be disposed innermost first, on the thread that opened them");
        _disposed = true;
        s_current = _parent;
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }
}
