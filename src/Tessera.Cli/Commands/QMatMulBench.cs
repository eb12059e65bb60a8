using System.Diagnostics;
using Tessera.Cpu;

namespace Tessera.Cli.Commands;

#pragma warning disable IDE1006 // JSON field names are the documented snake_case keys
/// <summary>One quantized-matmul benchmark result: GOP/s (2*M*N*K integer-and-float operations a second) and the
/// weight bytes read a second (the figure that matters for decode, M = 1).</summary>
internal sealed record QMatMulResult(string op, string type, int m, int k, int n, int threads,
    double ms_median, double gops, long weight_bytes, double weight_gbps);
#pragma warning restore IDE1006

/// <summary><c>tessera bench qmatmul --type int8|q8_0|q4_0|q4_1|q4_k|q6_k --m M --k K --n N [--threads T]</c>:
/// Linear with a constant quantized weight [N, K] on the CPU backend (wired into <see cref="BenchCommand"/> by the lead).</summary>
internal static class QMatMulBench
{
    public static QMatMulResult Run(string type, int m, int k, int n, int threads, int reps)
    {
        if (m <= 0 || k <= 0 || n <= 0) throw new TesseraException($"qmatmul sizes must be positive, got {m}x{k}x{n}");
        var dt = type is "int8" or "i8" ? DType.I8 : DTypeInfo.Parse(type);
        if (dt is not (DType.I8 or DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q4_K or DType.Q6_K))
            throw new TesseraException($"qmatmul benchmarks int8, q8_0, q4_0, q4_1, q4_k or q6_k, not {type}");
        if (k % dt.BlockSize() != 0) throw new TesseraException($"qmatmul {type}: K = {k} must be a multiple of the {dt.BlockSize()}-element block");
        using var backend = new CpuBackend(new CpuBackendOptions(threads));
        var rng = new Random(42);
        var xs = new float[(long)m * k];
        for (long i = 0; i < xs.Length; i++) xs[i] = (float)(rng.NextDouble() * 2 - 1);
        using var x = Tensor.FromArray(backend, xs, m, k);
        // Random bytes are valid weights of every format once the f16 scales are made small and finite.
        var bytes = new byte[dt.ByteCount((long)n * k)];
        rng.NextBytes(bytes);
        int[] halves = dt switch { DType.Q4_1 or DType.Q4_K => [0, 2], DType.Q6_K => [208], DType.I8 => [], _ => [0] };
        for (long o = 0; o < bytes.Length; o += dt.BlockBytes())
            foreach (int h in halves) BitConverter.TryWriteBytes(bytes.AsSpan((int)o + h), (Half)(0.001f + 0.01f * (float)rng.NextDouble()));
        using var raw = Tensor.FromArray(backend, bytes, bytes.Length);
        using var typed = Tensor.FromStorage(raw.Storage, dt, new Shape(n, k));
        using var w = typed.AsConstant();
        using var scales = dt == DType.I8 ? Tensor.Full(backend, DType.F32, new Shape(n), 0.01) : null;
        double ops = 2.0 * m * n * k;
        if (reps <= 0) reps = (int)Math.Clamp(5e9 / ops, 5, 500);
        for (int i = 0; i < Math.Max(3, reps / 5); i++) x.Linear(w, null, scales).Dispose();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            x.Linear(w, null, scales).Dispose();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        double ms = times[reps / 2];
        return new QMatMulResult("qmatmul", type, m, k, n, threads, ms, ops / ms / 1e6, bytes.LongLength, bytes.LongLength / ms / 1e6);
    }
}
