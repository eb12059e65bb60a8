namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>Small shape helpers the mappings share.</summary>
internal static class Shapes
{
    /// <summary>Product of dims [from, to) (1 for an empty range).</summary>
    public static int Prod(Shape s, int from, int to)
    {
        int p = 1;
        for (int i = from; i < to; i++) p = checked(p * s[i]);
        return p;
    }

    /// <summary>Runs a last-axis op along <paramref name="axis"/>: the axis is swapped to the end (a contiguous copy),
    /// the op runs, and the result is swapped back.</summary>
    public static Tensor AlongLast(Tensor x, int axis, Func<Tensor, Tensor> lastAxis)
    {
        if (axis == x.Rank - 1) return lastAxis(x);
        using var v = x.Transpose(axis, -1);
        using var c = v.Contiguous();
        using var y = lastAxis(c);
        using var back = y.Transpose(axis, -1);
        return back.Contiguous();
    }
}
