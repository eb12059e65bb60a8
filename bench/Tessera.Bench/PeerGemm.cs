using System.Diagnostics;
using System.Globalization;
using Tessera.Bench.Onnx;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>`peer gemm --m M --k K --n N [--threads T] [--dtype f32|bf16|f16] [--reps R] [--rounds N]` (`--probe 1`: the
/// kernel and packing probe, <see cref="GemmKernelProbe"/>): Tessera's
/// MatMul (through the public Tensor API, with B plain and with B declared constant, hence pre-packed) against ONNX Runtime's MatMul (B a constant
/// initializer) on the same shape, same process, interleaved; and as a linear layer (x W^T, W [N, K] constant, the
/// layout of a model's weights). One JSON line per engine, then one with the ratio.
/// ONNX Runtime has no bf16/f16 MatMul on the CPU, so for those dtypes Tessera's half and f32 runs sit side by side.</summary>
public static class PeerGemm
{
    private sealed record Engine(string Name, string DType, Action Run)
    {
        public List<double> Ms { get; } = [];
        public List<double> CpuMs { get; } = [];
    }

    public static int Run(Args args)
    {
        if (args.Int("probe", 0) != 0) return GemmKernelProbe.Run(args);
        int m = args.Int("m", 197), k = args.Int("k", 768), n = args.Int("n", 3072), threads = args.Int("threads", 1);
        int rounds = args.Int("rounds", 7), reps = args.Int("reps", 0);
        string dtype = args.Str("dtype", "f32");
        var dt = dtype switch
        {
            "f32" => DType.F32, "bf16" => DType.BF16, "f16" => DType.F16,
            _ => throw new ArgumentException($"--dtype must be f32, bf16 or f16, got {dtype}"),
        };
        var rng = new Random(1);
        var a = new float[(long)m * k];
        var b = new float[(long)k * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);

        var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var ta = Tensor.FromArray(cpu, a, m, k);
        using var tb = Tensor.FromArray(cpu, b, k, n);
        var engines = new List<Engine>();
        var disposables = new List<IDisposable>();
        float[]? tesseraOut = null;
        engines.Add(new Engine("tessera", "f32", () => { using var y = ta.MatMul(tb); tesseraOut ??= y.ToFloatArray(); }));

        // B declared constant (a weight), the way ONNX Runtime treats an initializer: the CPU backend packs it on the
        // first product and reuses the panels. Its own storage, so the plain run above keeps packing every call.
        var constantB = Tensor.FromArray(cpu, b, k, n);
        var tbc = constantB.AsConstant();
        disposables.Add(constantB); disposables.Add(tbc);
        engines.Add(new Engine("tessera-prepacked", "f32", () => { using var y = ta.MatMul(tbc); }));

        // A linear layer's weight: W = B^T stored [N, K], constant (memory-mapped in a model), applied as x W^T. This is
        // the path every ViT/CLIP/DiT projection takes, so it is the number the model benchmarks follow.
        var wt = new float[(long)n * k];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) wt[(long)j * k + p] = b[(long)p * n + j];
        var weight = Tensor.FromArray(cpu, wt, n, k);
        var weightConst = weight.AsConstant();
        disposables.Add(weight); disposables.Add(weightConst);
        engines.Add(new Engine("tessera-linear", "f32", () => { using var y = ta.Linear(weightConst); }));

        Tensor? ha = null, hb = null;
        OrtMatMul? ort = null;
        if (dt == DType.F32)
        {
            ort = new OrtMatMul(m, k, n, a, b, threads);
            disposables.Add(ort);
            engines.Add(new Engine("onnxruntime", "f32", ort.Run));
        }
        else
        {
            ha = ta.To(dt); hb = tb.To(dt);
            disposables.Add(ha); disposables.Add(hb);
            engines.Add(new Engine("tessera", dtype, () => { using var y = ha.MatMul(hb); }));
            engines.Add(new Engine("tessera", "f32@" + dtype, () => { using var y = ta.MatMul(hb); }));
        }

        // --order a,b,c: which engines run and in what order (e.g. to see whether one engine's spinning threads slow
        // the engine that runs after it).
        var order = args.Str("order", "");
        if (order.Length > 0)
        {
            var names = order.Split(',');
            engines = [.. names.Select(nm => engines.FirstOrDefault(e => e.Name == nm) ?? throw new ArgumentException($"--order: no engine {nm}"))];
        }

        // Warm up (JIT tiers, packing buffers, ORT's pre-pack), then ~50 ms an engine a round.
        reps = PeerRounds.Run([.. engines.Select(e => (e.Run, e.Ms))], rounds, reps, args.Int("settle-ms", 20), targetMs: 50, maxReps: 1000);

        // One thread: the same rounds again in thread CPU time (ONNX Runtime with one intra-op thread runs on the caller
        // too), which leaves out the slices other processes take on a shared machine.
        bool cpuTime = threads == 1 && ThreadCpuClock.Available;
        for (int r = 0; cpuTime && r < rounds; r++)
            foreach (var e in engines)
            {
                Thread.Sleep(args.Int("settle-ms", 20));
                e.Run();
                for (int i = 0; i < Math.Max(reps, 3); i++)
                {
                    double c0 = ThreadCpuClock.NowMs();
                    e.Run();
                    e.CpuMs.Add(ThreadCpuClock.NowMs() - c0);
                }
            }

        double flops = 2.0 * m * n * k;
        var ci = CultureInfo.InvariantCulture;
        var gflops = new Dictionary<string, double>();
        foreach (var e in engines)
        {
            e.Ms.Sort();
            e.CpuMs.Sort();
            double med = e.Ms[e.Ms.Count / 2];
            double gf = flops / (med * 1e6);
            gflops[e.Name + "/" + e.DType] = gf;
            string cpuJson = "";
            if (e.CpuMs.Count > 0)
            {
                double cmed = e.CpuMs[e.CpuMs.Count / 2];
                gflops[e.Name + "/" + e.DType + "/cpu"] = flops / (cmed * 1e6);
                cpuJson = string.Create(ci, $",\"cpu_ms_median\":{cmed:F4},\"cpu_ms_min\":{e.CpuMs[0]:F4},\"gflops_cpu\":{flops / (cmed * 1e6):F1}");
            }
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"gemm\",\"engine\":\"{e.Name}\",\"dtype\":\"{e.DType}\",\"m\":{m},\"k\":{k},\"n\":{n},\"threads\":{threads},\"reps\":{e.Ms.Count},\"ms_median\":{med:F4},\"ms_min\":{e.Ms[0]:F4},\"ms_p25\":{e.Ms[e.Ms.Count / 4]:F4},\"ms_p75\":{e.Ms[e.Ms.Count * 3 / 4]:F4},\"gflops\":{gf:F1}{cpuJson}}}"));
        }
        if (ort != null && gflops.ContainsKey("tessera/f32") && gflops.ContainsKey("tessera-prepacked/f32") && gflops.ContainsKey("onnxruntime/f32"))
        {
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < ort.Y.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(ort.Y[i] - tesseraOut![i]));
                maxRef = Math.Max(maxRef, Math.Abs(ort.Y[i]));
            }
            double o = gflops["onnxruntime/f32"];
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"gemm\",\"m\":{m},\"k\":{k},\"n\":{n},\"threads\":{threads},\"ratio\":{gflops["tessera/f32"] / o:F3},\"ratio_prepacked\":{gflops["tessera-prepacked/f32"] / o:F3},\"ratio_linear\":{gflops.GetValueOrDefault("tessera-linear/f32") / o:F3},{CpuRatios(gflops)}\"max_rel_diff_vs_ort\":{maxDiff / Math.Max(maxRef, 1e-30):E2}}}"));
        }
        else if (ort == null)
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"gemm\",\"m\":{m},\"k\":{k},\"n\":{n},\"threads\":{threads},\"ratio_{dtype}_vs_f32\":{gflops["tessera/" + dtype] / gflops["tessera/f32"]:F3}}}"));
        foreach (var d in disposables) d.Dispose();
        return 0;
    }

    // "ratio_cpu...": the same ratios in thread CPU time (one thread only), or nothing.
    private static string CpuRatios(Dictionary<string, double> gflops)
    {
        if (!gflops.TryGetValue("onnxruntime/f32/cpu", out double o)) return "";
        var ci = CultureInfo.InvariantCulture;
        return string.Concat(new[] { ("tessera", "ratio_cpu"), ("tessera-prepacked", "ratio_cpu_prepacked"), ("tessera-linear", "ratio_cpu_linear") }
            .Where(x => gflops.ContainsKey(x.Item1 + "/f32/cpu"))
            .Select(x => string.Create(ci, $"\"{x.Item2}\":{gflops[x.Item1 + "/f32/cpu"] / o:F3},")));
    }
}
