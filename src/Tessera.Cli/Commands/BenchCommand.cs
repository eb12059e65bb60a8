using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Tessera.Cpu;
using Tessera.Cuda;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera bench ...</c>: op benchmarks printing GFLOP/s against the machine's measured peak.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmark an op");
        bench.Subcommands.Add(Gemm());
        bench.Subcommands.Add(QMatMul());
        bench.Subcommands.Add(AttentionBench.Create());
        return bench;
    }

    private static Command QMatMul()
    {
        var type = new Option<string>("--type") { Description = "int8, q8_0, q4_0, q4_1, q4_k or q6_k", DefaultValueFactory = _ => "q8_0" };
        var m = new Option<int>("--m") { Description = "rows of x (1 = decode)", DefaultValueFactory = _ => 1 };
        var k = new Option<int>("--k") { Description = "inner dimension (a multiple of the block size)", DefaultValueFactory = _ => 4096 };
        var n = new Option<int>("--n") { Description = "output features (rows of the weight)", DefaultValueFactory = _ => 4096 };
        var threads = new Option<int>("--threads") { Description = "threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var reps = new Option<int>("--reps") { Description = "timed repetitions (median reported)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var cmd = new Command("qmatmul", "y[M,N] = x[M,K] @ dequantize(W[N,K])^T with a constant quantized weight on the CPU backend")
            { type, m, k, n, threads, reps, json };
        cmd.SetAction(pr =>
        {
            QMatMulResult r;
            try { r = QMatMulBench.Run(pr.GetValue(type)!, pr.GetValue(m), pr.GetValue(k), pr.GetValue(n), Math.Max(1, pr.GetValue(threads)), pr.GetValue(reps)); }
            catch (TesseraException e)
            {
                Console.Error.WriteLine($"tessera bench qmatmul: {e.Message}");
                return 2;
            }
            if (pr.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(r, BenchJsonContext.Default.QMatMulResult));
            else Console.WriteLine($"qmatmul {r.type} {r.m}x{r.k}x{r.n}, {r.threads} threads: {r.ms_median:F3} ms, {r.gops:F1} GOP/s, weights read at {r.weight_gbps:F1} GB/s");
            return 0;
        });
        return cmd;
    }

    private static Command Gemm()
    {
        var m = new Option<int>("--m") { Description = "rows of A and C", DefaultValueFactory = _ => 1024 };
        var k = new Option<int>("--k") { Description = "columns of A, rows of B", DefaultValueFactory = _ => 1024 };
        var n = new Option<int>("--n") { Description = "columns of B and C", DefaultValueFactory = _ => 1024 };
        var threads = new Option<int>("--threads") { Description = "threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var dtype = new Option<string>("--dtype") { Description = "f32, bf16 or f16 operands (f32 accumulation)", DefaultValueFactory = _ => "f32" };
        var reps = new Option<int>("--reps") { Description = "timed repetitions (median reported)", DefaultValueFactory = _ => 0 };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var cmd = new Command("gemm", "C[M,N] = A[M,K] @ B[K,N] on a backend") { m, k, n, threads, dtype, backend, reps, json };
        cmd.SetAction(pr =>
        {
            GemmResult r;
            try
            {
                r = RunGemm(pr.GetValue(m), pr.GetValue(k), pr.GetValue(n), pr.GetValue(threads),
                    DTypeInfo.Parse(pr.GetValue(dtype)!), pr.GetValue(backend)!, pr.GetValue(reps));
            }
            catch (TesseraException e)
            {
                Console.Error.WriteLine($"tessera bench gemm: {e.Message}");
                return 2;
            }
            if (pr.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(r, BenchJsonContext.Default.GemmResult));
            else Console.WriteLine($"gemm {r.dtype} {r.m}x{r.k}x{r.n} on {r.backend}, {r.threads} threads: {r.ms_median:F3} ms, {r.gflops:F1} GFLOP/s, " +
                                   $"{100 * r.fraction_of_peak:F1}% of the {r.peak_gflops:F0} GFLOP/s FMA peak");
            return 0;
        });
        return cmd;
    }

    internal static GemmResult RunGemm(int m, int k, int n, int threads, DType dtype, string backendName, int reps)
    {
        if (m <= 0 || k <= 0 || n <= 0) throw new TesseraException($"gemm sizes must be positive, got {m}x{k}x{n}");
        if (dtype is not (DType.F32 or DType.BF16 or DType.F16)) throw new TesseraException($"gemm benchmarks f32, bf16 or f16, not {dtype.Name()}");
        threads = Math.Max(1, threads);
        IBackend backend;
        Func<Action, double> time;
        double peak;
        if (backendName == "cpu")
        {
            backend = new CpuBackend(new CpuBackendOptions(threads));
            time = Wall;
            peak = FmaProbe.PeakGflops(threads);
        }
        else if (backendName == "cuda")
        {
            if (!CudaBackend.TryCreate(0, out var cuda, out string why)) throw new TesseraException($"no CUDA backend: {why}");
            backend = cuda;
            time = cuda.TimeMilliseconds; // CUDA events around the work, synchronised
            peak = CudaInfo.PeakF32Gflops(cuda.Info);
            threads = 0;
        }
        else throw new TesseraException($"unknown backend '{backendName}' (cpu or cuda)");
        using var owner = backend;
        var rng = new Random(42);
        using var a32 = Tensor.FromArray(backend, RandomArray(rng, (long)m * k), m, k);
        using var b32 = Tensor.FromArray(backend, RandomArray(rng, (long)k * n), k, n);
        using var a = a32.To(dtype);
        using var b = b32.To(dtype);
        double flops = 2.0 * m * n * k;
        if (reps <= 0) reps = (int)Math.Clamp(2e10 / flops, 5, 200); // about a second of work at 20 GFLOP/s
        for (int i = 0; i < Math.Max(2, reps / 5); i++) a.MatMul(b).Dispose();
        var times = new double[reps];
        for (int i = 0; i < reps; i++) times[i] = time(() => a.MatMul(b).Dispose());
        Array.Sort(times);
        double ms = times[reps / 2];
        double gflops = flops / ms / 1e6;
        return new GemmResult("gemm", backendName, m, k, n, dtype.Name(), threads, ms, gflops, peak, gflops / peak);
    }

    private static double Wall(Action work)
    {
        long t0 = Stopwatch.GetTimestamp();
        work();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    private static float[] RandomArray(Random rng, long count)
    {
        var a = new float[count];
        for (long i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
