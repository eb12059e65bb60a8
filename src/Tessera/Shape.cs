using System.Collections;

namespace Tessera;

/// <summary>An immutable list of dimension sizes. Element counts are checked for overflow so that a hostile
/// shape (from a weight file, say) fails here rather than in an allocation.</summary>
public sealed class Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    private readonly int[] _dims;

    /// <summary>Creates a shape; every dimension must be non-negative.</summary>
    public Shape(params ReadOnlySpan<int> dims)
    {
        _dims = dims.ToArray();
        long n = 1;
        foreach (int d in _dims)
        {
            if (d < 0) throw new TesseraException($"negative dimension in shape {Format(_dims)}");
            try { n = checked(n * d); }
            catch (OverflowException) { throw new TesseraException($"shape {Format(_dims)} has more elements than fit in 64 bits"); }
        }
        ElementCount = n;
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims.Length;

    /// <summary>Product of the dimensions.</summary>
    public long ElementCount { get; }

    /// <summary>Dimension <paramref name="i"/>; negative values count from the end.</summary>
    public int this[int i] => _dims[Axis(i)];

    /// <inheritdoc/>
    public int Count => _dims.Length;

    /// <summary>The dimensions as a span.</summary>
    public ReadOnlySpan<int> Dims => _dims;

    /// <summary>Normalises a possibly negative axis, naming the shape when it is out of range.</summary>
    public int Axis(int axis)
    {
        int a = axis < 0 ? axis + _dims.Length : axis;
        if ((uint)a >= (uint)_dims.Length)
            throw new TesseraException($"axis {axis} is out of range for shape {this} (rank {Rank})");
        return a;
    }

    /// <summary>Row-major (C order) strides in elements.</summary>
    public long[] ContiguousStrides()
    {
        var s = new long[_dims.Length];
        long acc = 1;
        for (int i = _dims.Length - 1; i >= 0; i--) { s[i] = acc; acc *= Math.Max(_dims[i], 1); }
        return s;
    }

    /// <summary>Replaces one dimension.</summary>
    public Shape With(int axis, int size)
    {
        var d = (int[])_dims.Clone();
        d[Axis(axis)] = size;
        return new Shape(d);
    }

    /// <summary>The shape two operands broadcast to, by NumPy's rules, or an error naming both.</summary>
    public static Shape Broadcast(Shape a, Shape b)
    {
        int r = Math.Max(a.Rank, b.Rank);
        var d = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Rank) >= 0 ? a._dims[i - (r - a.Rank)] : 1;
            int db = i - (r - b.Rank) >= 0 ? b._dims[i - (r - b.Rank)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new TesseraException($"shapes {a} and {b} do not broadcast (dimension {i}: {da} vs {db})");
            d[i] = da == 1 ? db : da;
        }
        return new Shape(d);
    }

    /// <inheritdoc/>
    public bool Equals(Shape? other) => other is not null && _dims.AsSpan().SequenceEqual(other._dims);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <inheritdoc/>
    public override int GetHashCode() { var h = new HashCode(); foreach (int d in _dims) h.Add(d); return h.ToHashCode(); }
    /// <summary>Compares dimensions.</summary>
    public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);
    /// <summary>Compares dimensions.</summary>
    public static bool operator !=(Shape? a, Shape? b) => !(a == b);
    /// <summary>Shapes convert implicitly from dimension arrays.</summary>
    public static implicit operator Shape(int[] dims) => new(dims);

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_dims).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _dims.GetEnumerator();

    /// <summary>Formats as "[2, 3, 4]".</summary>
    public override string ToString() => Format(_dims);

    private static string Format(int[] d) => "[" + string.Join(", ", d) + "]";
}
