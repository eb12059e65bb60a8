using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Tessera.Cpu;
using Tessera.Cpu.Attention;
using Tessera.Cuda;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera bench attention --heads H --kv-heads KH --seq S --head-dim D [--batch B] [--causal]
/// [--backend cpu|cuda] [--threads T] [--reps R] [--json]</c>: self-attention q, k, v [B, H|KH, S, D] f32 through the
/// public Tensor API; reports the median time, GFLOP/s (4 B H S^2 D, half of it when causal) and the peak bytes one
/// call allocates (the backend's attention scratch, managed allocations and the output).</summary>
internal static class AttentionBench
{
    public static Command Create()
    {
        var heads = new Option<int>("--heads") { Description = "query heads", DefaultValueFactory = _ => 12 };
        var kvHeads = new Option<int>("--kv-heads") { Description = "key/value heads (divides --heads; default: --heads)", DefaultValueFactory = _ => 0 };
        var seq = new Option<int>("--seq") { Description = "sequence length (queries and keys)", DefaultValueFactory = _ => 1024 };
        var headDim = new Option<int>("--head-dim") { Description = "head dimension", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch") { Description = "batch size", DefaultValueFactory = _ => 1 };
        var causal = new Option<bool>("--causal") { Description = "causal attention" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var reps = new Option<int>("--reps") { Description = "timed repetitions (median reported)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var cmd = new Command("attention", "Flash attention softmax(q k^T * scale) v on a backend")
            { heads, kvHeads, seq, headDim, batch, causal, backend, threads, reps, json };
        cmd.SetAction(pr =>
        {
            AttentionResult r;
            try
            {
                int h = pr.GetValue(heads), kh = pr.GetValue(kvHeads);
                r = Run(pr.GetValue(batch), h, kh <= 0 ? h : kh, pr.GetValue(seq), pr.GetValue(headDim), pr.GetValue(causal),
                    pr.GetValue(backend)!, pr.GetValue(threads), pr.GetValue(reps));
            }
            catch (TesseraException e)
            {
                Console.Error.WriteLine($"tessera bench attention: {e.Message}");
                return 2;
            }
            if (pr.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(r, BenchJsonContext.Default.AttentionResult));
            else Console.WriteLine($"attention {r.batch}x{r.heads}/{r.kv_heads} heads x {r.seq} x {r.head_dim}{(r.causal ? " causal" : "")} on {r.backend}, " +
                                   $"{r.threads} threads: {r.ms_median:F3} ms, {r.gflops:F1} GFLOP/s, peak {r.peak_bytes / 1048576.0:F1} MiB " +
                                   $"(scratch {r.scratch_peak_bytes / 1048576.0:F1}, managed {r.managed_bytes / 1048576.0:F2}, output {r.output_bytes / 1048576.0:F1})");
            return 0;
        });
        return cmd;
    }

    public static AttentionResult Run(int batch, int heads, int kvHeads, int seq, int headDim, bool causal, string backendName, int threads, int reps)
    {
        if (batch <= 0 || heads <= 0 || kvHeads <= 0 || seq <= 0 || headDim <= 0)
            throw new TesseraException($"attention sizes must be positive, got batch {batch}, heads {heads}/{kvHeads}, seq {seq}, head dim {headDim}");
        threads = Math.Max(1, threads);
        IBackend backend;
        Func<Action, double> time;
        if (backendName == "cpu")
        {
            backend = new CpuBackend(new CpuBackendOptions(threads));
            time = work => { long t0 = Stopwatch.GetTimestamp(); work(); return Stopwatch.GetElapsedTime(t0).TotalMilliseconds; };
        }
        else if (backendName == "cuda")
        {
            if (!CudaBackend.TryCreate(0, out var cuda, out string why)) throw new TesseraException($"no CUDA backend: {why}");
            backend = cuda;
            time = cuda.TimeMilliseconds;
            threads = 0;
        }
        else throw new TesseraException($"unknown backend '{backendName}' (cpu or cuda)");
        using var owner = backend;
        var rng = new Random(42);
        using var q = Tensor.FromArray(backend, RandomArray(rng, (long)batch * heads * seq * headDim), batch, heads, seq, headDim);
        using var k = Tensor.FromArray(backend, RandomArray(rng, (long)batch * kvHeads * seq * headDim), batch, kvHeads, seq, headDim);
        using var v = Tensor.FromArray(backend, RandomArray(rng, (long)batch * kvHeads * seq * headDim), batch, kvHeads, seq, headDim);
        var options = new AttentionOptions { Causal = causal };
        double flops = 4.0 * batch * heads * seq * (double)seq * headDim * (causal ? 0.5 : 1);
        if (reps <= 0) reps = (int)Math.Clamp(1e10 / flops, 3, 200);
        q.Attention(k, v, options).Dispose();
        // One measured call for memory: native scratch peak, managed bytes, and the output.
        CpuAttentionMemory.ResetPeak();
        long scratchBase = CpuAttentionMemory.CurrentBytes;
        long managed0 = GC.GetTotalAllocatedBytes(true);
        q.Attention(k, v, options).Dispose();
        long managed = GC.GetTotalAllocatedBytes(true) - managed0;
        long scratch = CpuAttentionMemory.PeakBytes - scratchBase;
        long output = 4L * batch * heads * seq * headDim;
        for (int i = 0; i < Math.Max(1, reps / 5); i++) q.Attention(k, v, options).Dispose();
        var times = new double[reps];
        for (int i = 0; i < reps; i++) times[i] = time(() => q.Attention(k, v, options).Dispose());
        Array.Sort(times);
        double ms = times[reps / 2];
        return new AttentionResult("attention", backendName, batch, heads, kvHeads, seq, headDim, causal, threads, ms, flops / ms / 1e6,
            scratch + managed + output, scratch, managed, output);
    }

    private static float[] RandomArray(Random rng, long count)
    {
        var a = new float[count];
        for (long i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
