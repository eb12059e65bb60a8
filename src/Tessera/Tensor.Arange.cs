namespace Tessera;

// Sequences and trigonometry: position indices, timestep frequencies, sinusoidal embeddings.
public sealed partial class Tensor
{
    /// <summary>A 1-D tensor [count] holding start, start + step, ..., start + (count - 1) step, computed in double
    /// and rounded once to <paramref name="dtype"/> (a float or integer type; integer types need integer start and
    /// step).</summary>
    public static Tensor Arange(IBackend backend, double start, int count, double step = 1, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (count < 0) throw new TesseraException($"arange: count must be 0 or more, got {count}");
        if (!double.IsFinite(start) || !double.IsFinite(step))
            throw new TesseraException($"arange: start {start} and step {step} must be finite");
        bool integer = dtype is DType.I8 or DType.U8 or DType.I32 or DType.I64;
        if (integer && (start != Math.Floor(start) || step != Math.Floor(step)))
            throw new TesseraException($"arange of {dtype.Name()} needs integer start and step, got {start} and {step}");
        double last = count == 0 ? start : start + (count - 1) * step;
        if (integer && !InRange(dtype, start, last))
            throw new TesseraException($"arange: values {start} to {last} do not fit {dtype.Name()}");
        var shape = new Shape(count);
        return dtype switch
        {
            DType.F32 => FromSpan<float>(backend, Values(count, i => (float)(start + i * step)), shape),
            DType.F16 => FromSpan<Half>(backend, Values(count, i => (Half)(start + i * step)), shape),
            DType.BF16 => FromSpan<BFloat16>(backend, Values(count, i => BFloat16.FromSingle((float)(start + i * step))), shape),
            DType.I8 => FromSpan<sbyte>(backend, Values(count, i => (sbyte)(start + i * step)), shape),
            DType.U8 => FromSpan<byte>(backend, Values(count, i => (byte)(start + i * step)), shape),
            DType.I32 => FromSpan<int>(backend, Values(count, i => (int)(start + i * step)), shape),
            DType.I64 => FromSpan<long>(backend, Values(count, i => (long)(start + i * step)), shape),
            _ => throw new TesseraException($"arange: no {dtype.Name()} sequences (block types have no single elements)"),
        };
    }

    private static T[] Values<T>(int count, Func<int, T> at)
    {
        var v = new T[count];
        for (int i = 0; i < count; i++) v[i] = at(i);
        return v;
    }

    private static bool InRange(DType t, double a, double b)
    {
        (double lo, double hi) = t switch
        {
            DType.I8 => (sbyte.MinValue, sbyte.MaxValue),
            DType.U8 => (byte.MinValue, byte.MaxValue),
            DType.I32 => (int.MinValue, int.MaxValue),
            _ => ((double)long.MinValue, (double)long.MaxValue),
        };
        return Math.Min(a, b) >= lo && Math.Max(a, b) <= hi;
    }

    /// <summary>sin x element-wise (radians).</summary>
    public Tensor Sin() => Map(UnaryOp.Sin);

    /// <summary>cos x element-wise (radians).</summary>
    public Tensor Cos() => Map(UnaryOp.Cos);
}
