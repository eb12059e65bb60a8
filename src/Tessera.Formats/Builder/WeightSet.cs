namespace Tessera.Formats;

/// <summary>The tensors a model loaded or derived at load time; disposing the set disposes them all. Thread-safe
/// for adding, so layers may load in parallel.</summary>
public sealed class WeightSet : IDisposable
{
    private readonly List<Tensor> _tensors = [];
    private bool _disposed;

    /// <summary>Number of tensors held.</summary>
    public int Count { get { lock (_tensors) return _tensors.Count; } }

    /// <summary>Bytes of tensor data held (views of one storage counted once per view).</summary>
    public long ByteCount
    {
        get { lock (_tensors) return _tensors.Sum(t => t.DType.ByteCount(t.ElementCount)); }
    }

    /// <summary>Adds a tensor (the set now owns it) and returns it.</summary>
    public Tensor Add(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        lock (_tensors)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _tensors.Add(t);
        }
        return t;
    }

    /// <summary>Asks backends to keep no derived copies (packed panels) of these tensors: for models under a memory
    /// budget that read their weights in place (a decoder: file + KV cache + a little).</summary>
    public void ForbidDerivedForms()
    {
        lock (_tensors)
            foreach (var t in _tensors) t.Storage.ForbidDerivedForms();
    }

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        List<Tensor> all;
        lock (_tensors)
        {
            if (_disposed) return;
            _disposed = true;
            all = [.. _tensors];
            _tensors.Clear();
        }
        foreach (var t in all) t.Dispose();
    }
}
