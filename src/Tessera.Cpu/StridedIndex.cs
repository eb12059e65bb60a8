namespace Tessera.Cpu;

/// <summary>Walks the rows (all axes but the last) of up to three tensors of one shape, yielding the element
/// offset of each row's start in each tensor. Ops use it to handle any strided or broadcast view with one
/// inner loop over the last axis.</summary>
internal struct StridedIndex
{
    private readonly int[] _dims;
    private readonly long[][] _strides;
    private readonly int[] _index;

    public StridedIndex(Shape shape, params Tensor[] tensors)
    {
        int r = Math.Max(shape.Rank - 1, 0);
        _dims = shape.Dims[..r].ToArray();
        _strides = tensors.Select(t => t.Strides[..r].ToArray()).ToArray();
        _index = new int[r];
        Rows = 1;
        foreach (int d in _dims) Rows *= d;
    }

    /// <summary>Number of rows.</summary>
    public long Rows { get; }

    /// <summary>Offsets, relative to each tensor's own offset, of row <paramref name="row"/> (any order).</summary>
    public readonly void Offsets(long row, Span<long> offsets)
    {
        offsets.Clear();
        for (int i = _dims.Length - 1; i >= 0 && row > 0; i--)
        {
            long idx = row % _dims[i];
            row /= _dims[i];
            for (int t = 0; t < _strides.Length; t++) offsets[t] += idx * _strides[t][i];
        }
    }
}
