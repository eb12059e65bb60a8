using System.Runtime.InteropServices;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>Runs a row on a backend and compares every output with its reference.</summary>
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
            if (data[i].Length != inp.DataLength)
                throw new InvalidOperationException($"{row.Name}: operand {i} drew {data[i].Length} values for a {inp.DType.Name()} base [{string.Join(", ", inp.BaseShape)}] of {inp.DataLength}");
            bases[i] = Upload(backend, inp.DType, inp.BaseShape, data[i]);
            operands[i] = inp.View is null ? bases[i] : inp.View(bases[i]);
            if (!ReferenceEquals(operands[i].Storage, bases[i].Storage))
                throw new InvalidOperationException($"{row.Name}: the view of operand {i} copied; table views must share storage");
            logical[i] = inp.DType.IsBlock()
                ? new Nd(inp.BaseShape, NaiveQuant.Dequantize(inp.DType, data[i].Select(v => (byte)v).ToArray(), Nd.Count(inp.BaseShape)))
                : ReadView(data[i], operands[i]);
        }
        var expected = row.ReferenceAll(logical);
        var got = row.RunAll(operands);
        string where = $"{row.Name} on {backendName}";

        for (int i = 0; i < bases.Length; i++)
            if (!ReadRaw(bases[i]).SequenceEqual(data[i]))
                return $"{where}: the op wrote into its input operand {i}";
        if (got.Length != row.Outputs.Count || expected.Length != row.Outputs.Count)
            throw new InvalidOperationException($"{row.Name}: {got.Length} outputs and {expected.Length} references for {row.Outputs.Count} declared outputs");
        for (int o = 0; o < got.Length; o++)
        {
            var want = row.Outputs[o];
            string at = got.Length == 1 ? where : $"{where}, output {o}";
            if (got[o].DType != want.DType) return $"{at}: output dtype {got[o].DType.Name()}, expected {want.DType.Name()}";
            if (!got[o].Shape.Dims.SequenceEqual(expected[o].Shape))
                return $"{at}: output shape {got[o].Shape}, expected [{string.Join(", ", expected[o].Shape)}]";
            var actual = ReadRaw(got[o]);
            string? failure = want.Check switch
            {
                Check.Exact => CompareExact(at, expected[o].Data, actual),
                Check.Fused => CompareFused(at, expected[o].Data, actual, want.SamePrecision?.Invoke(logical).Data
                    ?? throw new InvalidOperationException($"{row.Name}: a fused check needs the same-precision reference"), want.Bound),
                Check.Close => CompareClose(at, expected[o].Data, actual, want.Bound),
                _ => CompareNmse(at, expected[o].Data, actual, want.Bound),
            };
            if (failure is not null) return failure;
        }
        return null;
    }

    public static Tensor Upload(IBackend backend, DType dt, int[] shape, double[] values)
    {
        if (dt.IsBlock())
        {
            using var bytes = Tensor.FromArray(backend, values.Select(v => (byte)v).ToArray(), values.Length);
            return Tensor.FromStorage(bytes.Storage, dt, new Shape(shape));
        }
        return dt switch
        {
            DType.F32 => Tensor.FromArray(backend, values.Select(v => (float)v).ToArray(), shape),
            DType.F16 => Tensor.FromArray(backend, values.Select(v => (Half)v).ToArray(), shape),
            DType.BF16 => Tensor.FromArray(backend, values.Select(v => new BFloat16(BFloat16.Round((float)v))).ToArray(), shape),
            DType.I8 => Tensor.FromArray(backend, values.Select(v => (sbyte)v).ToArray(), shape),
            DType.U8 => Tensor.FromArray(backend, values.Select(v => (byte)v).ToArray(), shape),
            DType.I32 => Tensor.FromArray(backend, values.Select(v => (int)v).ToArray(), shape),
            DType.I64 => Tensor.FromArray(backend, values.Select(v => (long)v).ToArray(), shape),
            _ => throw new NotSupportedException(dt.ToString()),
        };
    }

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

    /// <summary>A contiguous tensor's values as doubles, straight from its bytes (no backend conversion kernel);
    /// a block-type tensor's bytes.</summary>
    public static double[] ReadRaw(Tensor t)
    {
        if (t.ElementCount == 0) return [];
        if (!t.IsContiguous) throw new InvalidOperationException($"{t} is not contiguous");
        var bytes = new byte[t.DType.ByteCount(t.ElementCount)];
        if (bytes.Length > 0) t.Backend.CopyToHost(t.Storage, t.DType.ByteCount(t.Offset), bytes);
        if (t.DType.IsBlock()) return [.. bytes.Select(b => (double)b)];
        return t.DType switch
        {
            DType.F32 => MemoryMarshal.Cast<byte, float>(bytes).ToArray().Select(v => (double)v).ToArray(),
            DType.F16 => MemoryMarshal.Cast<byte, Half>(bytes).ToArray().Select(v => (double)v).ToArray(),
            DType.BF16 => MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(v => (double)BFloat16.ToSingle(v)).ToArray(),
            DType.I8 => MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray().Select(v => (double)v).ToArray(),
            DType.U8 => bytes.Select(v => (double)v).ToArray(),
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
        double nmse = Nmse.Of(expected, actual);
        return nmse < tolerance ? null : $"{where}: nmse {nmse:E3} >= {tolerance:E0}; worst: {Worst(expected, actual)}";
    }

    /// <summary>FlashAttention's rule: max |out - ref| at most twice max |same - ref| plus the floor.</summary>
    private static string? CompareFused(string where, double[] expected, double[] actual, double[] samePrecision, double floor)
    {
        if (NonFinite(expected, actual) is { } bad) return $"{where}: {bad}";
        double err = MaxError(expected, actual), naive = MaxError(expected, samePrecision);
        return err <= 2 * naive + floor ? null
            : $"{where}: max error {err:E3} against fp64 exceeds twice the naive same-precision computation's {naive:E3} (+{floor:E0}); worst: {Worst(expected, actual)}";
    }

    private static string? CompareClose(string where, double[] expected, double[] actual, double tolerance)
    {
        if (NonFinite(expected, actual) is { } bad) return $"{where}: {bad}";
        for (int i = 0; i < expected.Length; i++)
            if (double.IsFinite(expected[i]) && Math.Abs(actual[i] - expected[i]) > tolerance * Math.Max(1, Math.Abs(expected[i])))
                return $"{where}: element {i} is {actual[i]:G9}, expected {expected[i]:G9} (within {tolerance:E0} relative); worst: {Worst(expected, actual)}";
        return null;
    }

    /// <summary>Non-finite values must agree exactly (a row that sees no key has log-sum-exp -inf).</summary>
    private static string? NonFinite(double[] expected, double[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            if ((!double.IsFinite(expected[i]) || !double.IsFinite(actual[i])) && !expected[i].Equals(actual[i]))
                return $"element {i} is {actual[i]:R}, expected {expected[i]:R}";
        return null;
    }

    private static double MaxError(double[] expected, double[] actual)
    {
        double e = 0;
        for (int i = 0; i < expected.Length; i++)
            if (double.IsFinite(expected[i])) e = Math.Max(e, Math.Abs(actual[i] - expected[i]));
        return e;
    }

    private static string Worst(double[] expected, double[] actual) =>
        string.Join("; ", Enumerable.Range(0, expected.Length).OrderByDescending(i => Math.Abs(actual[i] - expected[i])).Take(4)
            .Select(i => $"[{i}] expected {expected[i]:G9} got {actual[i]:G9}"));
}
