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
    /// <summary>FlashAttention's rule for a fused op: the largest error against the fp64 reference at most twice that
    /// of the naive computation in the working precision (<see cref="Out.SamePrecision"/>), plus the tolerance as a
    /// small absolute floor (for cases where the naive result happens to be nearly exact).</summary>
    Fused,
    /// <summary>Every element within tolerance * max(1, |ref|): for outputs whose every element matters on its own
    /// scale (attention's log-sum-exp), or a low-precision output judged as a whole by its largest error.</summary>
    Close,
}

/// <summary>One operand of a table row: its dtype, the shape of the contiguous base tensor the data is
/// written into, how values are drawn, and an optional view taken of the base (a transpose, a strided
/// slice, a broadcast) so that the op sees a non-contiguous input. For a GGUF block type the drawn data are the
/// tensor's bytes (<see cref="Draw"/> makes whole blocks) and the reference sees the dequantized values.</summary>
public sealed record In(DType DType, int[] BaseShape, Func<Random, int, double> Gen, Func<Tensor, Tensor>? View = null)
{
    /// <summary>Draws the whole base at once (for data with structure across elements, such as quantized blocks);
    /// when null, <see cref="Gen"/> draws element by element.</summary>
    public Func<Random, double[]>? Draw { get; init; }

    /// <summary>Uniform in [-1, 1); the second argument (the element's index) is unused.</summary>
    public static double Uniform(Random r, int _) => r.NextDouble() * 2 - 1;

    /// <summary>Values uniform in [-1, 1), contiguous.</summary>
    public static In Of(DType dt, params int[] shape) => new(dt, shape, Uniform);

    /// <summary>Normally distributed values with a standard deviation, contiguous.</summary>
    public static In Normal(DType dt, double std, params int[] shape) => new(dt, shape, (r, _) => std * Gaussian(r));

    /// <summary>Fixed values (tables, masks), contiguous.</summary>
    public static In Fixed(DType dt, int[] shape, double[] values) => new(dt, shape, (_, i) => values[i]);

    /// <summary>Integer ids uniform in [0, max).</summary>
    public static In Ids(DType dt, int max, params int[] shape) => new(dt, shape, (r, _) => r.Next(max));

    /// <summary>A quantized weight [n, k] of a GGUF block type, as ggml writes it (see <see cref="NaiveQuant.Blocks"/>).</summary>
    public static In Quantized(DType dt, int n, int k) => new(dt, [n, k], Uniform) { Draw = r => NaiveQuant.Blocks(dt, n, k, r) };

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

    /// <summary>Rounds a drawn value to what the dtype can hold, so the reference sees exactly the stored input.
    /// Block types hold bytes.</summary>
    public static double RoundTo(DType dt, double v) => dt switch
    {
        DType.F32 => (float)v,
        DType.F16 => (double)(Half)(float)v,
        DType.BF16 => BFloat16.ToSingle(BFloat16.Round((float)v)),
        DType.I32 or DType.I64 => Math.Round(v),
        DType.I8 => Math.Clamp(Math.Round(v), sbyte.MinValue, sbyte.MaxValue),
        DType.U8 => Math.Clamp(Math.Round(v), 0, byte.MaxValue),
        _ when dt.IsBlock() => (byte)v,
        _ => throw new NotSupportedException($"table inputs of {dt}"),
    };

    /// <summary>How many values the base holds: its elements, or its bytes for a block type.</summary>
    public int DataLength => DType.IsBlock() ? checked((int)DType.ByteCount(Nd.Count(BaseShape))) : Nd.Count(BaseShape);

    /// <summary>A standard normal draw (Box-Muller).</summary>
    public static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}

/// <summary>One output of a row: the dtype it must have and how it is judged against its reference.</summary>
public sealed record Out(DType DType, Check Check = Check.Nmse, double? Tolerance = null)
{
    /// <summary>For <see cref="Check.Fused"/>: the naive computation in the op's working precision, whose error
    /// against the fp64 reference sets the bar.</summary>
    public Func<Nd[], Nd>? SamePrecision { get; init; }

    /// <summary>The bound: for NMSE, ggml's 1e-7 on f32 outputs; for f16 and bf16 outputs the reference is computed
    /// from the rounded inputs, so what remains is the rounding of the output itself (relative error at most
    /// u = 2^-11 for f16, 2^-8 for bf16, giving nmse at most u^2/3: 8e-8 and 5e-6) plus f32 arithmetic inside; the
    /// bounds 1e-5 (f16) and 1e-4 (bf16) leave a margin of about 100x and 20x over that, yet fail an op that
    /// accumulates or normalises in the 16-bit type. For <see cref="Check.Fused"/> an absolute floor of 2e-6, for
    /// <see cref="Check.Close"/> a relative 1e-5.</summary>
    public double Bound => Tolerance ?? Check switch
    {
        Check.Fused => 2e-6,
        Check.Close => 1e-5,
        _ => DType switch { DType.F16 => 1e-5, DType.BF16 => 1e-4, _ => 1e-7 },
    };
}

/// <summary>One line of the op table: an op on given operands, its reference, and how to judge each output.
/// Inputs are drawn from a RNG seeded by the row's name, so a row is reproducible on its own. The IBackend
/// members a row exercises are <see cref="Ops"/>: by default derived from the first word of its name (see
/// <see cref="BackendSurface.OpsNamed"/>), or set explicitly where the name says something else.</summary>
public sealed class OpRow
{
    /// <summary>A row with one output (the usual case).</summary>
    public OpRow(string name, In[] inputs, Func<Tensor[], Tensor> run, Func<Nd[], Nd> reference,
        Check check = Check.Nmse, DType? outDType = null, double? tolerance = null)
        : this(name, inputs, t => [run(t)], r => [reference(r)], [new Out(outDType ?? inputs[0].DType, check, tolerance)])
    {
    }

    /// <summary>A row with several outputs (attention with its log-sum-exp, an LSTM's Y, Y_h and Y_c), or one output
    /// held to several references (<paramref name="run"/> may return the same tensor more than once).</summary>
    public OpRow(string name, In[] inputs, Func<Tensor[], Tensor[]> run, Func<Nd[], Nd[]> reference, Out[] outputs)
    {
        if (outputs.Length == 0) throw new ArgumentException($"row '{name}' has no outputs");
        Name = name;
        Inputs = inputs;
        RunAll = run;
        ReferenceAll = reference;
        Outputs = outputs;
    }

    public string Name { get; }
    public In[] Inputs { get; }

    /// <summary>Runs the op on the operands; one tensor per entry of <see cref="Outputs"/>.</summary>
    public Func<Tensor[], Tensor[]> RunAll { get; }

    /// <summary>The naive reference of every output, from the operands' logical values.</summary>
    public Func<Nd[], Nd[]> ReferenceAll { get; }

    /// <summary>The op of a one-output row (the first output of any row).</summary>
    public Func<Tensor[], Tensor> Run => t => RunAll(t)[0];

    /// <summary>The reference of the first output.</summary>
    public Func<Nd[], Nd> Reference => r => ReferenceAll(r)[0];

    /// <summary>What each output must be.</summary>
    public IReadOnlyList<Out> Outputs { get; }

    /// <summary>The IBackend members this row exercises (nameof(IBackend.MatMul), ...).</summary>
    public string[] Ops
    {
        get => _ops ??= BackendSurface.OpsNamed(Name);
        init => _ops = value;
    }

    private string[]? _ops;

    /// <summary>The first output's check.</summary>
    public Check Check => Outputs[0].Check;

    /// <summary>The dtype the first output must have (default: the first operand's).</summary>
    public DType OutDType => Outputs[0].DType;

    /// <summary>The first output's bound (see <see cref="Out.Bound"/>).</summary>
    public double Tolerance => Outputs[0].Bound;

    private double[][]? _data;

    /// <summary>The base data of each operand, drawn once and rounded to its dtype.</summary>
    public double[][] Data => _data ??= Draw();

    private double[][] Draw()
    {
        var rng = new Random(StableHash(Name));
        return Inputs.Select(i => (i.Draw is { } d ? d(rng) : Enumerable.Range(0, i.DataLength).Select(k => i.Gen(rng, k)))
            .Select(v => In.RoundTo(i.DType, v)).ToArray()).ToArray();
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
