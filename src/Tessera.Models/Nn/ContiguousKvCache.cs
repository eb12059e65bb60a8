namespace Tessera.Models.Nn;

/// <summary>A KV cache of one preallocated [B, KvHeads, MaxLength, HeadDim] buffer per layer for keys and for values;
/// appends write into the next slice in place, and <see cref="Append"/> returns views of the filled part.</summary>
public sealed class ContiguousKvCache : IKvCache, IDisposable
{
    private readonly Tensor[] _k, _v;
    private readonly int[] _length;

    /// <summary>Positions each layer can hold.</summary>
    public int MaxLength { get; }

    /// <summary>Allocates the buffers (uninitialised: only filled slices are ever read).</summary>
    public ContiguousKvCache(IBackend backend, int layers, int batch, int kvHeads, int headDim, int maxLength, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (layers <= 0 || batch <= 0 || kvHeads <= 0 || headDim <= 0 || maxLength <= 0)
            throw new TesseraException($"kv cache: sizes must be positive (layers {layers}, batch {batch}, kv heads {kvHeads}, head dim {headDim}, max length {maxLength})");
        MaxLength = maxLength;
        _k = new Tensor[layers];
        _v = new Tensor[layers];
        _length = new int[layers];
        var shape = new Shape(batch, kvHeads, maxLength, headDim);
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

    /// <inheritdoc/>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        var buf = _k[CheckLayer(layer)];
        int at = _length[layer], s = k.Rank == 4 ? k.Dim(2) : -1;
        bool fits = k.Rank == 4 && k.Shape.Equals(v.Shape) && k.Dim(0) == buf.Dim(0) && k.Dim(1) == buf.Dim(1) && k.Dim(3) == buf.Dim(3);
        if (!fits)
            throw new TesseraException($"kv cache layer {layer}: k {k.Shape} and v {v.Shape} must both be [B, KvHeads, S, HeadDim] matching the cache {buf.Shape}");
        if (at + s > MaxLength)
            throw new TesseraException($"kv cache layer {layer}: {at} stored + {s} new positions exceed the cache's {MaxLength}");
        using (var kSlot = buf.Narrow(2, at, s)) k.CopyInto(kSlot);
        using (var vSlot = _v[layer].Narrow(2, at, s)) v.CopyInto(vSlot);
        _length[layer] = at + s;
        return (buf.Narrow(2, 0, at + s), _v[layer].Narrow(2, 0, at + s));
    }

    /// <summary>Forgets every layer's positions (the buffers stay allocated).</summary>
    public void Clear() => Array.Clear(_length);

    /// <summary>Keeps the first <paramref name="length"/> positions of every layer and forgets the rest (a chat keeps the
    /// prefix its next prompt shares with the last one).</summary>
    public void Truncate(int length)
    {
        for (int l = 0; l < _length.Length; l++)
        {
            if (length < 0 || length > _length[l])
                throw new TesseraException($"kv cache layer {l}: cannot truncate {_length[l]} positions to {length}");
            _length[l] = length;
        }
    }

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        foreach (var t in _k) t?.Dispose();
        foreach (var t in _v) t?.Dispose();
    }

    private int CheckLayer(int layer) =>
        (uint)layer < (uint)_k.Length ? layer : throw new TesseraException($"kv cache: layer {layer} is outside 0..{_k.Length - 1}");
}
