using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Bench.Onnx;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>`peer lstm --seq T --batch B --input I --hidden H [--direction forward|reverse|bidirectional] [--threads N]
/// [--rounds R] [--reps N] [--order tessera,onnxruntime] [--warmup-ms 1000] [--dump 1]` (dump: every sample in order, to stderr): Tessera's LSTM (W, R, B declared constant, as a model's
/// weights are) against ONNX Runtime's LSTM node (W, R, B initializers) on the same X [T, B, I], same process, same
/// thread count, interleaved rounds with a settle pause at each switch of engine. One JSON line per engine (median
/// and min ms, GFLOP/s of the two GEMM parts), then one with the ratio (ORT time / Tessera time: above 1 is faster)
/// and the largest difference of Y.</summary>
public static class PeerLstm
{
    private sealed record Engine(string Name, Action Run)
    {
        public List<double> Ms { get; } = [];
    }

    public static int Run(Args args)
    {
        int s = args.Int("seq", 26), b = args.Int("batch", 1), inp = args.Int("input", 512), h = args.Int("hidden", 256);
        int threads = args.Int("threads", 1), rounds = args.Int("rounds", 7), reps = args.Int("reps", 0);
        string direction = args.Str("direction", "bidirectional");
        var dirOpt = direction switch
        {
            "forward" => LstmDirection.Forward, "reverse" => LstmDirection.Reverse, "bidirectional" => LstmDirection.Bidirectional,
            _ => throw new ArgumentException($"--direction must be forward, reverse or bidirectional, got {direction}"),
        };
        int d = dirOpt == LstmDirection.Bidirectional ? 2 : 1;
        var rng = new Random(1);
        float[] R(long n, double scale)
        {
            var a = new float[n];
            for (int i = 0; i < a.Length; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
            return a;
        }
        double ws = 1 / Math.Sqrt(h);
        float[] x = R((long)s * b * inp, 1), w = R((long)d * 4 * h * inp, ws), r = R((long)d * 4 * h * h, ws), bias = R((long)d * 8 * h, 0.1);

        var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var tx = Tensor.FromArray(cpu, x, s, b, inp);
        using var tw0 = Tensor.FromArray(cpu, w, d, 4 * h, inp);
        using var tr0 = Tensor.FromArray(cpu, r, d, 4 * h, h);
        using var tb0 = Tensor.FromArray(cpu, bias, d, 8 * h);
        using var tw = tw0.AsConstant();
        using var tr = tr0.AsConstant();
        using var tb = tb0.AsConstant();
        var options = new LstmOptions { Direction = dirOpt };
        float[]? mine = null;
        using var ort = new OrtLstm(s, b, inp, h, direction, x, w, r, bias, threads);
        var engines = new List<Engine>
        {
            new("tessera", () => { using var o = tx.Lstm(tw, tr, tb, options); mine ??= o.Y.ToFloatArray(); }),
            new("onnxruntime", ort.Run),
        };
        var order = args.Str("order", "");
        if (order.Length > 0)
            engines = [.. order.Split(',').Select(nm => engines.FirstOrDefault(e => e.Name == nm) ?? throw new ArgumentException($"--order: no engine {nm}"))];

        // Warm up (JIT tiers, packing, ORT's pre-pack) for a second an engine: the JIT's background tier-up thread
        // otherwise takes a core from a 2-thread run for the first second or so; then size the repetitions to ~50 ms a round.
        var sw = new Stopwatch();
        double slowest = 0;
        foreach (var e in engines)
        {
            for (int i = 0; i < 3; i++) e.Run();
            sw.Restart();
            int n = 0;
            while (sw.Elapsed.TotalMilliseconds < args.Int("warmup-ms", 1000) || n < 2) { e.Run(); n++; }
            slowest = Math.Max(slowest, sw.Elapsed.TotalMilliseconds / n);
        }
        if (reps <= 0) reps = Math.Clamp((int)(50 / slowest), 1, 200);
        // ONNX Runtime's intra-op threads spin after a run: pause and run once untimed at each switch of engine. Its
        // 2-thread LSTM left a core busy for ~50 ms (Tessera's first 6 runs of a round at B=8 took 8 ms, the rest 4),
        // hence 200 ms rather than the 20 of the GEMM bench.
        int settle = args.Int("settle-ms", 200);
        for (int round = 0; round < rounds; round++)
            foreach (var e in engines)
            {
                Thread.Sleep(settle);
                e.Run();
                for (int i = 0; i < reps; i++)
                {
                    sw.Restart();
                    e.Run();
                    e.Ms.Add(sw.Elapsed.TotalMilliseconds);
                }
            }
        double flops = 2.0 * s * b * d * 4 * h * ((double)inp + h);
        var ci = CultureInfo.InvariantCulture;
        var med = new Dictionary<string, double>();
        foreach (var e in engines)
        {
            if (args.Int("dump", 0) != 0) Console.Error.WriteLine(e.Name + ": " + string.Join(" ", e.Ms.Select(v => v.ToString("F2", ci))));
            e.Ms.Sort();
            med[e.Name] = e.Ms[e.Ms.Count / 2];
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"lstm\",\"engine\":\"{e.Name}\",\"seq\":{s},\"batch\":{b},\"input\":{inp},\"hidden\":{h},\"direction\":\"{direction}\",\"threads\":{threads},\"reps\":{e.Ms.Count},\"ms_median\":{med[e.Name]:F3},\"ms_min\":{e.Ms[0]:F3},\"gflops\":{flops / (med[e.Name] * 1e6):F1}}}"));
        }
        if (med.ContainsKey("tessera") && med.ContainsKey("onnxruntime"))
        {
            mine ??= RunOnce(tx, tw, tr, tb, options);
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < ort.Y.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(ort.Y[i] - mine[i]));
                maxRef = Math.Max(maxRef, Math.Abs(ort.Y[i]));
            }
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"lstm\",\"seq\":{s},\"batch\":{b},\"input\":{inp},\"threads\":{threads},\"speedup_vs_ort\":{med["onnxruntime"] / med["tessera"]:F3},\"max_rel_diff_vs_ort\":{maxDiff / Math.Max(maxRef, 1e-30):E2}}}"));
        }
        return 0;
    }

    private static float[] RunOnce(Tensor x, Tensor w, Tensor r, Tensor b, LstmOptions options)
    {
        using var o = x.Lstm(w, r, b, options);
        return o.Y.ToFloatArray();
    }

    /// <summary>ONNX Runtime's LSTM node with W, R, B initializers, IntraOpNumThreads = threads, one inter-op thread,
    /// sequential execution, X and Y pre-bound.</summary>
    private sealed class OrtLstm : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly OrtValue _x, _y;
        private readonly OrtIoBinding _binding;
        private readonly RunOptions _run = new();

        public OrtLstm(int s, int b, int i, int h, string direction, float[] x, float[] w, float[] r, float[] bias, int threads)
        {
            using var opts = new SessionOptions
            {
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            _session = new InferenceSession(OnnxModelBuilder.Lstm(s, b, i, h, direction, w, r, bias), opts);
            int d = direction == "bidirectional" ? 2 : 1;
            _x = OrtValue.CreateTensorValueFromMemory(x, [s, b, i]);
            Y = new float[(long)s * d * b * h];
            _y = OrtValue.CreateTensorValueFromMemory(Y, [s, d, b, h]);
            _binding = _session.CreateIoBinding();
            _binding.BindInput("X", _x);
            _binding.BindOutput("Y", _y);
        }

        /// <summary>Y [S, D, B, H], written by each <see cref="Run"/>.</summary>
        public float[] Y { get; }

        public void Run() => _session.RunWithBinding(_run, _binding);

        public void Dispose()
        {
            _binding.Dispose(); _x.Dispose(); _y.Dispose(); _run.Dispose(); _session.Dispose();
        }
    }
}
