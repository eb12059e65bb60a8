namespace Tessera.Tests.Reference;

/// <summary>The oracle: every op of the surface written as plainly as possible, on <see cref="Nd"/> arrays,
/// with double arithmetic and double accumulation. No blocking, no vectors, no cleverness: each function
/// is the definition of its op, so that a reader can check it against the paper or PyTorch's docs.
/// Image ops (conv2d, patch embedding, bicubic) are in <see cref="NaiveImageOps"/>.</summary>
public static partial class NaiveOps
{
    // ---- element-wise -------------------------------------------------------------------------------

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>x * Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2, exact GELU.</summary>
    public static double Gelu(double x) => x * 0.5 * Erf.Complement(-x / Math.Sqrt(2));

    /// <summary>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's GELU.</summary>
    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double Unary(UnaryOp op, double x) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Rsqrt => 1 / Math.Sqrt(x),
        UnaryOp.Square => x * x,
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Relu => Math.Max(x, 0),
        UnaryOp.Gelu => Gelu(x),
        UnaryOp.GeluTanh => GeluTanh(x),
        UnaryOp.QuickGelu => x * Sigmoid(1.702 * x),
        UnaryOp.Silu => x * Sigmoid(x),
        UnaryOp.HardSwish => x * Math.Clamp(x + 3, 0, 6) / 6,
        UnaryOp.HardSigmoid => Math.Clamp(x + 3, 0, 6) / 6,
        UnaryOp.Sin => Math.Sin(x),
        UnaryOp.Cos => Math.Cos(x),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static double Activate(Activation act, double x) => act switch
    {
        Activation.None => x,
        Activation.Gelu => Gelu(x),
        Activation.GeluTanh => GeluTanh(x),
        Activation.QuickGelu => x * Sigmoid(1.702 * x),
        Activation.Silu => x * Sigmoid(x),
        Activation.Relu => Math.Max(x, 0),
        Activation.HardSwish => x * Math.Clamp(x + 3, 0, 6) / 6,
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    public static double Binary(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => Math.Max(a, b),
        BinaryOp.Min => Math.Min(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static Nd Map(UnaryOp op, Nd x) => new(x.Shape, x.Data.Select(v => Unary(op, v)).ToArray());

    /// <summary>op(a, b) with NumPy broadcasting.</summary>
    public static Nd Zip(BinaryOp op, Nd a, Nd b)
    {
        var shape = Nd.BroadcastShape(a.Shape, b.Shape);
        var ab = a.BroadcastTo(shape);
        var bb = b.BroadcastTo(shape);
        var r = Nd.Zeros(shape);
        for (int i = 0; i < r.Length; i++) r.Data[i] = Binary(op, ab.Data[i], bb.Data[i]);
        return r;
    }

    public static Nd Affine(Nd x, double mul, double add) => new(x.Shape, x.Data.Select(v => v * mul + add).ToArray());

    // ---- matmul -------------------------------------------------------------------------------------

    /// <summary>act(a @ b + bias) + residual over the last two axes with NumPy batch broadcasting;
    /// a rank-1 b is a column [K, 1] that is dropped from the result.</summary>
    public static Nd MatMul(Nd a, Nd b, Nd? bias = null, Activation act = Activation.None, Nd? residual = null)
    {
        bool vec = b.Rank == 1;
        if (vec) b = new Nd([b.Shape[0], 1], b.Data);
        int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
        if (b.Shape[^2] != k) throw new ArgumentException("inner dimensions differ");
        var batch = Nd.BroadcastShape(a.Shape[..^2], b.Shape[..^2]);
        var ab = a.BroadcastTo([.. batch, m, k]);
        var bb = b.BroadcastTo([.. batch, k, n]);
        var outShape = (int[])[.. batch, m, n];
        var r = Nd.Zeros(outShape);
        int batches = Nd.Count(batch);
        for (int t = 0; t < batches; t++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double acc = 0;
                    for (int p = 0; p < k; p++)
                        acc += ab.Data[(t * m + i) * k + p] * bb.Data[(t * k + p) * n + j];
                    if (bias is not null) acc += bias.Data[j];
                    r.Data[(t * m + i) * n + j] = Activate(act, acc);
                }
        if (residual is not null)
        {
            var rb = residual.BroadcastTo(outShape);
            for (int i = 0; i < r.Length; i++) r.Data[i] += rb.Data[i];
        }
        return vec ? new Nd(outShape[..^1], r.Data) : r;
    }

    // ---- row ops over the last axis -----------------------------------------------------------------

    /// <summary>softmax(x * scale + mask) over the last axis, the mask broadcast to x.</summary>
    public static Nd Softmax(Nd x, Nd? mask = null, double scale = 1)
    {
        var mb = mask?.BroadcastTo(x.Shape);
        int d = x.Shape[^1], rows = x.Length / Math.Max(d, 1);
        var r = Nd.Zeros(x.Shape);
        var z = new double[d];
        for (int row = 0; row < rows; row++)
        {
            double max = double.NegativeInfinity;
            for (int i = 0; i < d; i++)
            {
                z[i] = x.Data[row * d + i] * scale + (mb?.Data[row * d + i] ?? 0);
                max = Math.Max(max, z[i]);
            }
            double sum = 0;
            for (int i = 0; i < d; i++) sum += Math.Exp(z[i] - max);
            for (int i = 0; i < d; i++) r.Data[row * d + i] = Math.Exp(z[i] - max) / sum;
        }
        return r;
    }

    /// <summary>(x - mean) / sqrt(var + eps) * weight + bias over the last axis; var is the biased variance.</summary>
    public static Nd LayerNorm(Nd x, Nd? weight, Nd? bias, double eps)
    {
        int d = x.Shape[^1], rows = x.Length / Math.Max(d, 1);
        var r = Nd.Zeros(x.Shape);
        for (int row = 0; row < rows; row++)
        {
            double mean = 0;
            for (int i = 0; i < d; i++) mean += x.Data[row * d + i];
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) var += Math.Pow(x.Data[row * d + i] - mean, 2);
            var /= d;
            double inv = 1 / Math.Sqrt(var + eps);
            for (int i = 0; i < d; i++)
                r.Data[row * d + i] = (x.Data[row * d + i] - mean) * inv * (weight?.Data[i] ?? 1) + (bias?.Data[i] ?? 0);
        }
        return r;
    }

    /// <summary>x / sqrt(mean(x^2) + eps) * weight over the last axis.</summary>
    public static Nd RmsNorm(Nd x, Nd? weight, double eps)
    {
        int d = x.Shape[^1], rows = x.Length / Math.Max(d, 1);
        var r = Nd.Zeros(x.Shape);
        for (int row = 0; row < rows; row++)
        {
            double ms = 0;
            for (int i = 0; i < d; i++) ms += x.Data[row * d + i] * x.Data[row * d + i];
            ms /= d;
            double inv = 1 / Math.Sqrt(ms + eps);
            for (int i = 0; i < d; i++) r.Data[row * d + i] = x.Data[row * d + i] * inv * (weight?.Data[i] ?? 1);
        }
        return r;
    }

    /// <summary>Rotary embedding of x [..., S, D] with cos, sin [S, R/2]. Rotate-half pairs channel i with
    /// i + R/2 (the halves of the rotary part); interleaved pairs 2i with 2i + 1. Channels R.. pass through.
    /// Each pair (a, b) turns by the angle of its position s and frequency i: (a cos - b sin, b cos + a sin).</summary>
    public static Nd Rope(Nd x, Nd cos, Nd sin, RopeMode mode)
    {
        int s = x.Shape[^2], d = x.Shape[^1], half = cos.Shape[1];
        var r = new Nd(x.Shape, (double[])x.Data.Clone());
        int rows = x.Length / Math.Max(d, 1);
        for (int row = 0; row < rows; row++)
        {
            int pos = row % s;
            for (int i = 0; i < half; i++)
            {
                int ia = mode == RopeMode.RotateHalf ? i : 2 * i;
                int ib = mode == RopeMode.RotateHalf ? i + half : 2 * i + 1;
                double a = x.Data[row * d + ia], b = x.Data[row * d + ib];
                double c = cos[pos, i], sn = sin[pos, i];
                r.Data[row * d + ia] = a * c - b * sn;
                r.Data[row * d + ib] = b * c + a * sn;
            }
        }
        return r;
    }

    // ---- indexing, reductions, concat ---------------------------------------------------------------

    /// <summary>Rows of a [V, D] table picked by integer ids of any shape: [...ids, D].</summary>
    public static Nd Gather(Nd table, Nd ids)
    {
        int d = table.Shape[1];
        var r = Nd.Zeros([.. ids.Shape, d]);
        for (int i = 0; i < ids.Length; i++)
        {
            int row = checked((int)ids.Data[i]);
            for (int j = 0; j < d; j++) r.Data[i * d + j] = table[row, j];
        }
        return r;
    }

    /// <summary>Sum, mean, max, min or argmax (first maximum) over one axis.</summary>
    public static Nd Reduce(ReduceOp op, Nd x, int axis, bool keepDim)
    {
        if (axis < 0) axis += x.Rank;
        var kept = (int[])x.Shape.Clone();
        int n = kept[axis];
        kept[axis] = 1;
        var r = Nd.Zeros(kept);
        for (int o = 0; o < r.Length; o++)
        {
            var idx = Nd.Unravel(o, kept);
            double acc = op switch { ReduceOp.Max or ReduceOp.ArgMax => double.NegativeInfinity, ReduceOp.Min => double.PositiveInfinity, _ => 0 };
            int arg = 0;
            for (int i = 0; i < n; i++)
            {
                idx[axis] = i;
                double v = x[idx];
                switch (op)
                {
                    case ReduceOp.Sum or ReduceOp.Mean: acc += v; break;
                    case ReduceOp.Max: acc = Math.Max(acc, v); break;
                    case ReduceOp.Min: acc = Math.Min(acc, v); break;
                    case ReduceOp.ArgMax: if (v > acc) { acc = v; arg = i; } break;
                }
            }
            r.Data[o] = op switch { ReduceOp.Mean => acc / n, ReduceOp.ArgMax => arg, _ => acc };
        }
        if (keepDim) return r;
        return new Nd([.. x.Shape[..axis], .. x.Shape[(axis + 1)..]], r.Data);
    }

    /// <summary>Joins arrays along one axis.</summary>
    public static Nd Concat(int axis, params Nd[] parts)
    {
        if (axis < 0) axis += parts[0].Rank;
        var shape = (int[])parts[0].Shape.Clone();
        shape[axis] = parts.Sum(p => p.Shape[axis]);
        var r = Nd.Zeros(shape);
        for (int o = 0; o < r.Length; o++)
        {
            var idx = Nd.Unravel(o, shape);
            int part = 0;
            while (idx[axis] >= parts[part].Shape[axis]) { idx[axis] -= parts[part].Shape[axis]; part++; }
            r.Data[o] = parts[part][idx];
        }
        return r;
    }
}
