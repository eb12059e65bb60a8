namespace Tessera.Tests.Reference;

/// <summary>A plain row-major n-dimensional array of doubles: the only data type the naive reference
/// knows. Nothing here touches the engine, so the reference cannot share a bug with it.</summary>
public sealed class Nd
{
    public Nd(int[] shape, double[] data)
    {
        if (data.Length != Count(shape))
            throw new ArgumentException($"{data.Length} values for shape [{string.Join(", ", shape)}]");
        Shape = shape;
        Data = data;
    }

    public int[] Shape { get; }
    public double[] Data { get; }
    public int Rank => Shape.Length;
    public int Length => Data.Length;

    public static Nd Zeros(params int[] shape) => new(shape, new double[Count(shape)]);

    public static int Count(int[] shape)
    {
        int n = 1;
        foreach (int d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>Row-major strides in elements.</summary>
    public static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>The multi-index of a linear (row-major) position.</summary>
    public static int[] Unravel(int linear, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = linear % shape[i];
            linear /= shape[i];
        }
        return idx;
    }

    /// <summary>The linear position of a multi-index.</summary>
    public static int Ravel(int[] idx, int[] shape)
    {
        int p = 0;
        for (int i = 0; i < shape.Length; i++) p = p * shape[i] + idx[i];
        return p;
    }

    public double this[params int[] idx]
    {
        get => Data[Ravel(idx, Shape)];
        set => Data[Ravel(idx, Shape)] = value;
    }

    /// <summary>NumPy's broadcast of two shapes (right-aligned; a dimension of 1 stretches).</summary>
    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var d = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da != db && da != 1 && db != 1) throw new ArgumentException("shapes do not broadcast");
            d[i] = da == 1 ? db : da;
        }
        return d;
    }

    /// <summary>A materialised copy of this array repeated to a larger shape by NumPy's rules.</summary>
    public Nd BroadcastTo(int[] target)
    {
        var result = Zeros(target);
        int lead = target.Length - Rank;
        for (int i = 0; i < result.Length; i++)
        {
            var idx = Unravel(i, target);
            var src = new int[Rank];
            for (int k = 0; k < Rank; k++) src[k] = Shape[k] == 1 ? 0 : idx[k + lead];
            result.Data[i] = this[src];
        }
        return result;
    }

    public override string ToString() => $"Nd[{string.Join(", ", Shape)}]";
}
