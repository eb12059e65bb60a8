namespace Tessera.Tests.Reference;

// The ops the model layer added (issue 11): comparisons and where, index-select, top-k, group norm, the gated
// matmul epilogue, rotary embedding at explicit positions, arange. Written from their definitions (PyTorch's and
// ONNX's docs), in double.
public static partial class NaiveOps
{
    public static bool Compare(CompareOp op, double a, double b) => op switch
    {
        CompareOp.Equal => a == b,
        CompareOp.NotEqual => a != b,
        CompareOp.Less => a < b,
        CompareOp.LessOrEqual => a <= b,
        CompareOp.Greater => a > b,
        CompareOp.GreaterOrEqual => a >= b,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>op(a, b) broadcast, as 1 and 0.</summary>
    public static Nd Compare(CompareOp op, Nd a, Nd b)
    {
        var shape = Nd.BroadcastShape(a.Shape, b.Shape);
        var ab = a.BroadcastTo(shape);
        var bb = b.BroadcastTo(shape);
        var r = Nd.Zeros(shape);
        for (int i = 0; i < r.Length; i++) r.Data[i] = Compare(op, ab.Data[i], bb.Data[i]) ? 1 : 0;
        return r;
    }

    /// <summary>cond != 0 ? a : b, the three broadcast together.</summary>
    public static Nd Where(Nd cond, Nd a, Nd b)
    {
        var shape = Nd.BroadcastShape(Nd.BroadcastShape(cond.Shape, a.Shape), b.Shape);
        var c = cond.BroadcastTo(shape);
        var ab = a.BroadcastTo(shape);
        var bb = b.BroadcastTo(shape);
        var r = Nd.Zeros(shape);
        for (int i = 0; i < r.Length; i++) r.Data[i] = c.Data[i] != 0 ? ab.Data[i] : bb.Data[i];
        return r;
    }

    /// <summary>torch.index_select: out[.., i, ..] = x[.., ids[i], ..] along <paramref name="axis"/>.</summary>
    public static Nd IndexSelect(Nd x, int axis, Nd ids)
    {
        var shape = (int[])x.Shape.Clone();
        shape[axis] = ids.Length;
        var r = Nd.Zeros(shape);
        for (int i = 0; i < r.Length; i++)
        {
            var idx = Nd.Unravel(i, shape);
            idx[axis] = (int)ids.Data[idx[axis]];
            r.Data[i] = x[idx];
        }
        return r;
    }

    /// <summary>Whether value a at index i ranks before value b at index j: larger first (or smaller first), NaN
    /// above every number, ties to the lower index (ONNX TopK).</summary>
    private static bool RanksBefore(double a, int i, double b, int j, bool largest)
    {
        bool an = double.IsNaN(a), bn = double.IsNaN(b);
        if (an || bn)
        {
            if (an && bn) return i < j;
            return largest ? an : bn; // NaN is the largest: first when largest, last otherwise
        }
        if (a != b) return largest ? a > b : a < b;
        return i < j;
    }

    /// <summary>The k best of each last-axis row by repeated selection: values and their indices.</summary>
    public static (Nd Values, Nd Indices) TopK(Nd x, int k, bool largest)
    {
        int n = x.Shape[^1], rows = n == 0 ? 0 : x.Length / n;
        var shape = (int[])x.Shape.Clone();
        shape[^1] = k;
        var values = Nd.Zeros(shape);
        var indices = Nd.Zeros(shape);
        for (int row = 0; row < rows; row++)
        {
            var taken = new bool[n];
            for (int j = 0; j < k; j++)
            {
                int best = -1;
                for (int i = 0; i < n; i++)
                    if (!taken[i] && (best < 0 || RanksBefore(x.Data[row * n + i], i, x.Data[row * n + best], best, largest))) best = i;
                taken[best] = true;
                values.Data[row * k + j] = x.Data[row * n + best];
                indices.Data[row * k + j] = best;
            }
        }
        return (values, indices);
    }

    /// <summary>torch.nn.GroupNorm over x [B, C, *spatial]: mean and biased variance of each group's channels and
    /// positions, then per-channel weight and bias.</summary>
    public static Nd GroupNorm(Nd x, int groups, Nd? weight, Nd? bias, double eps)
    {
        int b = x.Shape[0], c = x.Shape[1], spatial = x.Length / Math.Max(b * c, 1), per = c / groups;
        var r = Nd.Zeros(x.Shape);
        for (int bi = 0; bi < b; bi++)
            for (int g = 0; g < groups; g++)
            {
                int start = (bi * c + g * per) * spatial, count = per * spatial;
                double mean = 0, var = 0;
                for (int i = 0; i < count; i++) mean += x.Data[start + i];
                mean /= count;
                for (int i = 0; i < count; i++) var += (x.Data[start + i] - mean) * (x.Data[start + i] - mean);
                var /= count;
                double inv = 1 / Math.Sqrt(var + eps);
                for (int i = 0; i < count; i++)
                {
                    int ch = g * per + i / spatial;
                    r.Data[start + i] = (x.Data[start + i] - mean) * inv * (weight?.Data[ch] ?? 1) + (bias?.Data[ch] ?? 0);
                }
            }
        return r;
    }

    /// <summary>x [.., K] @ w^T for w [N, K], then act(+ bias) * multiplier + residual (both broadcast): the gated
    /// MLP epilogue.</summary>
    public static Nd GatedLinear(Nd x, Nd w, Nd? bias, Activation act, Nd? multiplier, Nd? residual)
    {
        int k = x.Shape[^1], n = w.Shape[0], m = x.Length / k;
        var shape = (int[])x.Shape.Clone();
        shape[^1] = n;
        var r = Nd.Zeros(shape);
        var mb = multiplier?.BroadcastTo(shape);
        var rb = residual?.BroadcastTo(shape);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += x.Data[i * k + p] * w.Data[j * k + p];
                acc = Activate(act, acc + (bias?.Data[j] ?? 0));
                if (mb is not null) acc *= mb.Data[i * n + j];
                if (rb is not null) acc += rb.Data[i * n + j];
                r.Data[i * n + j] = acc;
            }
        return r;
    }

    /// <summary>Rotary embedding of x [..., S, D] (rank 2 to 4) at explicit positions, the angles computed here from
    /// the ids (not from any table): pair i of a token at position p turns by p * theta^(-2i / R). Positions are [S]
    /// (shared) or [B, S] (per sequence, x [B, ..., S, D]).</summary>
    public static Nd RopeAt(Nd x, Nd positions, int rotaryDim, double theta, RopeMode mode)
    {
        int s = x.Shape[^2], d = x.Shape[^1], half = rotaryDim / 2, rows = x.Length / d;
        int perBatch = x.Length / x.Shape[0] / d; // rows of one leading index
        var r = new Nd(x.Shape, (double[])x.Data.Clone());
        for (int row = 0; row < rows; row++)
        {
            double pos = positions.Rank == 1 ? positions.Data[row % s] : positions.Data[row / perBatch * s + row % s];
            for (int i = 0; i < half; i++)
                Rotate(r, row * d, i, half, pos * Math.Pow(theta, -2.0 * i / rotaryDim), mode);
        }
        return r;
    }

    /// <summary>2-D rotary embedding of x [..., N, D] at patch positions (rows[n], cols[n]): the first R/4 pairs
    /// turn with the row, the next R/4 with the column, each at the frequencies of an R/2-wide rotary.</summary>
    public static Nd Rope2DAt(Nd x, int[] rowIds, int[] colIds, int rotaryDim, double theta, RopeMode mode)
    {
        int s = x.Shape[^2], d = x.Shape[^1], half = rotaryDim / 2, quarter = rotaryDim / 4, rows = x.Length / d;
        var r = new Nd(x.Shape, (double[])x.Data.Clone());
        for (int row = 0; row < rows; row++)
        {
            int p = row % s;
            for (int i = 0; i < half; i++)
            {
                double f = Math.Pow(theta, -2.0 * (i % quarter) / half);
                Rotate(r, row * d, i, half, (i < quarter ? rowIds[p] : colIds[p]) * f, mode);
            }
        }
        return r;
    }

    private static void Rotate(Nd r, int at, int i, int half, double angle, RopeMode mode)
    {
        int ia = at + (mode == RopeMode.RotateHalf ? i : 2 * i);
        int ib = at + (mode == RopeMode.RotateHalf ? i + half : 2 * i + 1);
        double a = r.Data[ia], b = r.Data[ib], c = Math.Cos(angle), sn = Math.Sin(angle);
        r.Data[ia] = a * c - b * sn;
        r.Data[ib] = b * c + a * sn;
    }

    /// <summary>start, start + step, ... (count values).</summary>
    public static Nd Arange(double start, int count, double step) =>
        new([count], Enumerable.Range(0, count).Select(i => start + i * step).ToArray());
}
