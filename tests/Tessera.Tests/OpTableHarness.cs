using System.Runtime.InteropServices;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>How a row's output is judged.</summary>
public enum Check
{
    /// <summary>Normalised MSE mse(out, ref) / mse(ref, 0) under the row's tolerance (ggml's rule).</summary>
    Nmse,
    /// <summary>Bit-for-bit equal values: ops that only move or select elements (copy, gather, concat, max,
    /// min, argmax) have no rounding to forgive.</summary>
    Exact,
}

/// <summary>One operand of a table row: its dtype, the shape of the contiguous base tensor the data is
/// written into, how values are drawn, and an optional view taken of the base (a transpose, a strided
/// slice, a broadcast) so that the op sees a non-contiguous input.</summary>
public sealed record In(DType DType, int[] BaseShape, Func<Random, int, double> Gen, Func<Tensor, Tensor>? View = null)
{
    /// <summary>Uniform in [-1, 1); the second argument (the element's index) is unused.</summary>
    public static double Uniform(Random r, int _) => r.NextDouble() * 2 - 1;

    /// <summary>Values uniform in [-1, 1), contiguous.</summary>
    public static In Of(DType dt, params int[] shape) => new(dt, shape, Uniform);

    /// <summary>Fixed values (tables, masks), contiguous.</summary>
    public static In Fixed(DType dt, int[] shape, double[] values) => new(dt, shape, (_, i) => values[i]);

    /// <summary>Integer ids uniform in [0, max).</summary>
    public static In Ids(DType dt, int max, params int[] shape) => new(dt, shape, (r, _) => r.Next(max));

    public In Range(double lo, double hi) => this with { Gen = (r, _) => lo + (hi - lo) * r.NextDouble() };

    /// <summary>Values of magnitude in [lo, hi) with a random sign (divisors kept away from 0).</summary>
    public In Magnitude(double lo, double hi) => this with { Gen = (r, _) => (r.Next(2) == 0 ? -1 : 1) * (lo + (hi - lo) * r.NextDouble()) };

    public In Viewed(Func<Tensor, Tensor> view) => this with { View = view };

    /// <summary>A [m, n] operand that is the transpose of a contiguous [n, m] tensor.</summary>
    public static In Transposed(DType dt, int m, int n) => new(dt, [n, m], Uniform, t => t.T);

    /// <summary>A [m, n] operand read with row stride and column step 2 out of a larger [m + 2, 2n + 1] tensor
    /// (rows 1..m, every other column), so neither axis is contiguous and the offset is not 0.</summary>
    public static In Strided(DType dt, int m, int n) =>
        new(dt, [m + 2, 2 * n + 1], Uniform, t => t.Slice(0, 1, -1).Slice(1, 1, 2 * n + 1, 2));

    /// <summary>A size-1 (or missing) axis repeated by a stride-0 view to the full shape.</summary>
    public static In Broadcast(DType dt, int[] baseShape, int[] shape) => new(dt, baseShape, Uniform, t => t.BroadcastTo(shape));

    /// <summary>Rounds a drawn value to what the dtype can hold, so the reference sees exactly the stored input.</summary>
    public static double RoundTo(DType dt, double v) => dt switch
    {
        DType.F32 => (float)v,
        DType.F16 => (double)(Half)(float)v,
        DType.BF16 => BFloat16.ToSingle(BFloat16.Round((float)v)),
        DType.I32 or DType.I64 => Math.Round(v),
        _ => throw new NotSupportedException($"table inputs of {dt}"),
    };
}

/// <summary>One line of the op table: an op on given operands, its reference, and how to judge it.
/// Inputs are drawn from a RNG seeded by the row's name, so a row is reproducible on its own.</summary>
public sealed class OpRow(string name, In[] inputs, Func<Tensor[], Tensor> run, Func<Nd[], Nd> reference,
    Check check = Check.Nmse, DType? outDType = null, double? tolerance = null)
{
    public string Name { get; } = name;
    public In[] Inputs { get; } = inputs;
    public Func<Tensor[], Tensor> Run { get; } = run;
    public Func<Nd[], Nd> Reference { get; } = reference;
    public Check Check { get; } = check;

    /// <summary>The dtype the output must have (default: the first operand's).</summary>
    public DType OutDType { get; } = outDType ?? inputs[0].DType;

    /// <summary>Normalised-MSE bound. For f32 outputs ggml's 1e-7. For f16 and bf16 outputs the reference is
    /// computed from the rounded inputs, so what remains is the rounding of the output itself (relative error
    /// at most u = 2^-11 for f16, 2^-8 for bf16, giving nmse at most u^2/3: 8e-8 and 5e-6) plus f32 arithmetic
    /// inside; the bounds 1e-5 (f16) and 1e-4 (bf16) leave a margin of about 100x and 20x over that, yet fail an
    /// op that accumulates or normalises in the 16-bit type.</summary>
    public double Tolerance { get; } = tolerance ?? (outDType ?? inputs[0].DType) switch
    {
        DType.F16 => 1e-5,
        DType.BF16 => 1e-4,
        _ => 1e-7,
    };

    private double[][]? _data;

    /// <summary>The base data of each operand, drawn once and rounded to its dtype.</summary>
    public double[][] Data => _data ??= Draw();

    private double[][] Draw()
    {
        var rng = new Random(StableHash(Name));
        return Inputs.Select(i => Enumerable.Range(0, Nd.Count(i.BaseShape)).Select(k => In.RoundTo(i.DType, i.Gen(rng, k))).ToArray()).ToArray();
    }

    // string.GetHashCode is randomised per process; FNV-1a is not.
    private static int StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return (int)(h & 0x7FFF_FFFF);
    }

    public override string ToString() => Name;
}

/// <summary>Runs a row on a backend and compares with the reference.</summary>
public static class OpRunner
{
    /// <summary>Null when the row passes, otherwise a message naming the row, the backend and the worst elements.</summary>
    public static string? Execute(OpRow row, string backendName, IBackend backend)
    {
        using var scope = TensorScope.Begin();
        var data = row.Data;
        var bases = new Tensor[row.Inputs.Length];
        var operands = new Tensor[row.Inputs.Length];
        var logical = new Nd[row.Inputs.Length];
        for (int i = 0; i < row.Inputs.Length; i++)
        {
            var inp = row.Inputs[i];
            bases[i] = Upload(backend, inp.DType, inp.BaseShape, data[i]);
            operands[i] = inp.View is null ? bases[i] : inp.View(bases[i]);
            if (!ReferenceEquals(operands[i].Storage, bases[i].Storage))
                throw new InvalidOperationException($"{row.Name}: the view of operand {i} copied; table views must share storage");
            logical[i] = ReadView(data[i], operands[i]);
        }
        var expected = row.Reference(logical);
        var got = row.Run(operands);
        string where = $"{row.Name} on {backendName}";

        for (int i = 0; i < bases.Length; i++)
            if (!ReadRaw(bases[i]).SequenceEqual(data[i]))
                return $"{where}: the op wrote into its input operand {i}";
        if (got.DType != row.OutDType) return $"{where}: output dtype {got.DType.Name()}, expected {row.OutDType.Name()}";
        if (!got.Shape.Dims.SequenceEqual(expected.Shape))
            return $"{where}: output shape {got.Shape}, expected [{string.Join(", ", expected.Shape)}]";
        var actual = ReadRaw(got);
        return row.Check == Check.Exact ? CompareExact(where, expected.Data, actual) : CompareNmse(where, expected.Data, actual, row.Tolerance);
    }

    public static Tensor Upload(IBackend backend, DType dt, int[] shape, double[] values) => dt switch
    {
        DType.F32 => Tensor.FromArray(backend, values.Select(v => (float)v).ToArray(), shape),
        DType.F16 => Tensor.FromArray(backend, values.Select(v => (Half)v).ToArray(), shape),
        DType.BF16 => Tensor.FromArray(backend, values.Select(v => new BFloat16(BFloat16.Round((float)v))).ToArray(), shape),
        DType.I32 => Tensor.FromArray(backend, values.Select(v => (int)v).ToArray(), shape),
        DType.I64 => Tensor.FromArray(backend, values.Select(v => (long)v).ToArray(), shape),
        _ => throw new NotSupportedException(dt.ToString()),
    };

    /// <summary>The logical values of a view of contiguous base data, from the view's own shape, strides and
    /// offset: element idx lives at offset + sum idx[i] * stride[i]. Uses no backend code.</summary>
    public static Nd ReadView(double[] baseData, Tensor view)
    {
        var shape = view.Shape.Dims.ToArray();
        var r = Nd.Zeros(shape);
        for (int i = 0; i < r.Length; i++)
        {
            var idx = Nd.Unravel(i, shape);
            long at = view.Offset;
            for (int k = 0; k < idx.Length; k++) at += idx[k] * view.Strides[k];
            r.Data[i] = baseData[at];
        }
        return r;
    }

    /// <summary>A contiguous tensor's values as doubles, straight from its bytes (no backend conversion kernel).</summary>
    public static double[] ReadRaw(Tensor t)
    {
        if (t.ElementCount == 0) return [];
        if (!t.IsContiguous) throw new InvalidOperationException($"{t} is not contiguous");
        var bytes = new byte[t.DType.ByteCount(t.ElementCount)];
        if (bytes.Length > 0) t.Backend.CopyToHost(t.Storage, t.DType.ByteCount(t.Offset), bytes);
        return t.DType switch
        {
            DType.F32 => MemoryMarshal.Cast<byte, float>(bytes).ToArray().Select(v => (double)v).ToArray(),
            DType.F16 => MemoryMarshal.Cast<byte, Half>(bytes).ToArray().Select(v => (double)v).ToArray(),
            DType.BF16 => MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(v => (double)BFloat16.ToSingle(v)).ToArray(),
            DType.I32 => MemoryMarshal.Cast<byte, int>(bytes).ToArray().Select(v => (double)v).ToArray(),
            DType.I64 => MemoryMarshal.Cast<byte, long>(bytes).ToArray().Select(v => (double)v).ToArray(),
            _ => throw new NotSupportedException(t.DType.ToString()),
        };
    }

    private static string? CompareExact(string where, double[] expected, double[] actual)
    {
        int bad = 0, first = -1;
        for (int i = 0; i < expected.Length; i++)
            if (!expected[i].Equals(actual[i])) { bad++; if (first < 0) first = i; }
        return bad == 0 ? null : $"{where}: {bad} of {expected.Length} elements differ; first at {first}: expected {expected[first]:R}, got {actual[first]:R}";
    }

    private static string? CompareNmse(string where, double[] expected, double[] actual, double tolerance)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (double.IsFinite(expected[i]) != double.IsFinite(actual[i]))
                return $"{where}: element {i} is {actual[i]:R}, expected {expected[i]:R}";
            if (!double.IsFinite(expected[i])) continue;
            err += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        // An all-zero reference has no scale: then the plain MSE must meet the bound.
        double nmse = norm > 0 ? err / norm : err / Math.Max(expected.Length, 1);
        if (nmse < tolerance) return null;
        var worst = Enumerable.Range(0, expected.Length).OrderByDescending(i => Math.Abs(actual[i] - expected[i])).Take(4)
            .Select(i => $"[{i}] expected {expected[i]:G9} got {actual[i]:G9}");
        return $"{where}: nmse {nmse:E3} >= {tolerance:E0}; worst: {string.Join("; ", worst)}";
    }
}
