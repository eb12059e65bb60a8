using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

/// <summary>Measures the machine's f32 fused-multiply-add throughput: the peak that GEMM figures are quoted
/// against. Each thread runs independent vector FMA chains (enough to cover the FMA latency on both ports)
/// for a short, fixed time.</summary>
public static class FmaProbe
{
    /// <summary>Peak GFLOP/s (2 flops per FMA lane) on <paramref name="threads"/> threads, best of a few trials.</summary>
    public static double PeakGflops(int threads, int milliseconds = 60)
    {
        threads = Math.Max(1, threads);
        double best = 0;
        for (int trial = 0; trial < 3; trial++)
        {
            var results = new double[threads];
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => results[t] = OneThread(milliseconds))).ToArray();
            foreach (var w in workers) w.Start();
            foreach (var w in workers) w.Join();
            best = Math.Max(best, results.Sum());
        }
        return best;
    }

    private static double OneThread(int milliseconds)
    {
        long flops = 0;
        var sw = Stopwatch.StartNew();
        float sink = 0;
        while (sw.ElapsedMilliseconds < milliseconds)
        {
            (long f, float s) = Vector512.IsHardwareAccelerated ? Run512(1 << 16) : Run256(1 << 16);
            flops += f;
            sink += s;
        }
        double gflops = flops / sw.Elapsed.TotalSeconds / 1e9;
        return sink == 12345.678f ? gflops + 1e-9 : gflops; // keep the result alive
    }

    /// <summary>Iterations of one <see cref="Run512Once"/>.</summary>
    private const int OnceIterations = 1 << 12;

    /// <summary>Flops of one <see cref="Run512Once"/>.</summary>
    internal const double FlopsPerRun512 = OnceIterations * 12.0 * 16 * 2;

    /// <summary>One short burst of the 512-bit FMA loop, for callers that time it with their own clock (the GEMM probe
    /// times it in thread CPU time beside its kernels).</summary>
    internal static float Run512Once() => Run512(OnceIterations).Item2;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (long, float) Run512(int iters)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < iters; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c); a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return ((long)iters * 12 * 16 * 2, Vector512.Sum(s));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (long, float) Run256(int iters)
    {
        var m = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
        for (int i = 0; i < iters; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c); a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c); a9 = Vector256.FusedMultiplyAdd(a9, m, c);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
        return ((long)iters * 10 * 8 * 2, Vector256.Sum(s));
    }
}
