using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Tessera.Cpu;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera bench ...</c>: op benchmarks printing GFLOP/s against the machine's measured peak.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmark an op");
        bench.Subcommands.Add(Gemm());
        return bench;
    }

    private static Command Gemm()
    {
        var m = new Option<int>("--m") { Description = "rows of A and C", DefaultValueFactory = _ => 1024 };
        var k = new Option<int>("--k") { Description = "columns of A, rows of B", DefaultValueFactory = _ => 1024 };
        var n = new Option<int>("--n") { Description = "columns of B and C", DefaultValueFactory = _ => 1024 };
        var threads = new Option<int>("--threads") { Description = "threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dtype = new Option<string>("--dtype") { Description = "f32, bf16 or f16 operands (f32 accumulation)", DefaultValueFactory = _ => "f32" };
        var reps = new Option<int>("--reps") { Description = "timed repetitions (median reported)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var cmd = new Command("gemm", "C[M,N] = A[M,K] @ B[K,N] on the CPU backend") { m, k, n, threads, dtype, reps, json };
        cmd.SetAction(pr =>
        {
            var r = RunGemm(pr.GetValue(m), pr.GetValue(k), pr.GetValue(n), pr.GetValue(threads),
                DTypeInfo.Parse(pr.GetValue(dtype)!), pr.GetValue(reps));
            if (pr.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(r, BenchJsonContext.Default.GemmResult));
            else Console.WriteLine($"gemm {r.dtype} {r.m}x{r.k}x{r.n}, {r.threads} threads: {r.ms_median:F3} ms, {r.gflops:F1} GFLOP/s, " +
                                   $"{100 * r.fraction_of_peak:F1}% of the {r.peak_gflops:F0} GFLOP/s FMA peak");
            return 0;
        });
        return cmd;
    }

    internal static GemmResult RunGemm(int m, int k, int n, int threads, DType dtype, int reps)
    {
        if (m <= 0 || k <= 0 || n <= 0) throw new TesseraException($"gemm sizes must be positive, got {m}x{k}x{n}");
        if (dtype is not (DType.F32 or DType.BF16 or DType.F16)) throw new TesseraException($"gemm benchmarks f32, bf16 or f16, not {dtype.Name()}");
        using var backend = new CpuBackend(new CpuBackendOptions(threads));
        var rng = new Random(42);
        using var a32 = Tensor.FromArray(backend, RandomArray(rng, (long)m * k), m, k);
        using var b32 = Tensor.FromArray(backend, RandomArray(rng, (long)k * n), k, n);
        using var a = a32.To(dtype);
        using var b = b32.To(dtype);
        double flops = 2.0 * m * n * k;
        if (reps <= 0) reps = (int)Math.Clamp(2e10 / flops, 5, 200); // about a second of work at 20 GFLOP/s
        for (int i = 0; i < Math.Max(2, reps / 5); i++) a.MatMul(b).Dispose();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a.MatMul(b).Dispose();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        double ms = times[reps / 2];
        double peak = FmaProbe.PeakGflops(threads);
        double gflops = flops / ms / 1e6;
        return new GemmResult("gemm", m, k, n, dtype.Name(), threads, ms, gflops, peak, gflops / peak);
    }

    private static float[] RandomArray(Random rng, long count)
    {
        var a = new float[count];
        for (long i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
