using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Models.Diffusion.Vae;

namespace Tessera.Bench;

/// <summary>`peer vae-decode [--sizes 256,512] [--threads 1,2] [--rounds N] [--settle-ms MS] [--profile RUNS] [--conv-ab 1]`:
/// Stable Diffusion's AutoencoderKL decoder (latent 4 x size/8 x size/8 -> 3 x size x size; random weights, fp32),
/// Tessera's AutoencoderKl (loaded from the diffusers vae/ folder the bench writes, untiled) against ONNX Runtime on an
/// ONNX graph of the same network, same process, same thread count, interleaved rounds with settle pauses and warm-up
/// by time. One JSON line per engine (ms median), then a summary whose ratio is ORT's time over Tessera's (>= 1:
/// Tessera faster) with the largest output difference; at one thread also both engines' CPU time of this thread per run
/// and their ratio, readable on a loaded machine. `--profile RUNS` prints instead Tessera's per-op times
/// (OpProfiler) beside ONNX Runtime's per-node profile of the same graph; `--conv-ab 1` times each of the decoder's 3x3
/// conv shapes through the backend's route against im2col + GEMM (<see cref="PeerVaeConvs"/>).</summary>
public static class PeerVaeDecoder
{
    public static int Run(Args args)
    {
        var sizes = args.Str("sizes", "256,512").Split(',').Select(int.Parse).ToArray();
        var threadCounts = args.Str("threads", "1,2").Split(',').Select(int.Parse).ToArray();
        int rounds = args.Int("rounds", 3), settle = args.Int("settle-ms", 200), profile = args.Int("profile", 0);
        if (args.Int("conv-ab", 0) > 0) return PeerVaeConvs.Run(sizes, threadCounts, rounds);
        var ci = CultureInfo.InvariantCulture;
        var net = new PeerVaeNetwork();
        string dir = Path.Combine(Path.GetTempPath(), $"tessera-peer-vae-{Environment.ProcessId}");
        net.WriteFolder(dir);
        try
        {
            foreach (int size in sizes)
            {
                if (size % 8 != 0) throw new ArgumentException($"--sizes: {size} is not a multiple of the latent factor 8");
                int h = size / 8;
                var rng = new Random(3);
                var latent = new float[PeerVaeNetwork.Latent * h * h];
                for (int i = 0; i < latent.Length; i++) latent[i] = (float)(rng.NextDouble() * 4 - 2);
                byte[] onnx = net.Onnx(h, h);
                foreach (int threads in threadCounts)
                {
                    using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
                    var options = new AutoencoderKlOptions { LoadEncoder = false, TileSize = 0 };
                    if (profile > 0)
                    {
                        Profile(dir, cpu, options, latent, h, onnx, size, threads, profile);
                        continue;
                    }
                    using var vae = AutoencoderKl.Open(cpu, dir, options);
                    using var z = Tensor.FromArray(cpu, latent, 1, PeerVaeNetwork.Latent, h, h);
                    using var opts = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
                    using var session = new InferenceSession(onnx, opts);
                    using var input = OrtValue.CreateTensorValueFromMemory(latent, [1, PeerVaeNetwork.Latent, h, h]);
                    var y = new float[3 * size * size];
                    using var output = OrtValue.CreateTensorValueFromMemory(y, [1, 3, size, size]);
                    using var binding = session.CreateIoBinding();
                    binding.BindInput("z", input);
                    binding.BindOutput("y", output);
                    using var runOptions = new RunOptions();
                    float[]? mine = null;
                    // At one thread both engines run on this thread: its CPU time per run, which other processes' load
                    // on a shared machine does not inflate as it does the wall clock.
                    List<double> tCpu = [], oCpu = [];
                    var tessera = (Run: (Action)(() => CpuTimed(tCpu, () => { using var o = vae.Decode(z); mine ??= o.ToFloatArray(); })), Ms: new List<double>());
                    var ort = (Run: (Action)(() => CpuTimed(oCpu, () => session.RunWithBinding(runOptions, binding))), Ms: new List<double>());
                    // One decode takes seconds: one repetition a turn, one warm-up run (PeerRounds adds 200 ms by time).
                    PeerRounds.Run([tessera, ort], rounds, reps: 1, settle, targetMs: 0, maxReps: 1, warmRuns: 1);
                    double maxDiff = 0, maxRef = 0;
                    for (int i = 0; i < y.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(y[i] - mine![i])); maxRef = Math.Max(maxRef, Math.Abs(y[i])); }
                    double tMs = Median(tessera.Ms), oMs = Median(ort.Ms);
                    foreach (var (engine, ms) in new[] { ("tessera", tMs), ("onnxruntime", oMs) })
                        Console.WriteLine(string.Create(ci, $"{{\"op\":\"vae-decode\",\"engine\":\"{engine}\",\"size\":{size},\"threads\":{threads},\"ms_median\":{ms:F1}}}"));
                    // The rounds' runs (each round runs an engine twice), past the warm-up.
                    double tc = Median(tCpu.TakeLast(2 * rounds).ToList()), oc = Median(oCpu.TakeLast(2 * rounds).ToList());
                    string cpuKeys = threads == 1 && ThreadCpuClock.Available
                        ? string.Create(ci, $",\"tessera_cpu_ms\":{tc:F1},\"onnxruntime_cpu_ms\":{oc:F1},\"ratio_cpu_ort_over_tessera\":{oc / tc:F3}") : "";
                    Console.WriteLine(string.Create(ci, $"{{\"op\":\"vae-decode\",\"size\":{size},\"threads\":{threads},\"ratio_ort_over_tessera\":{oMs / tMs:F3}{cpuKeys},\"max_abs_diff\":{maxDiff:E2},\"max_abs_output\":{maxRef:F3}}}"));
                }
            }
        }
        finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
        return 0;
    }

    // Where the time goes: the decoder through OpProfiler, then ONNX Runtime's per-node profile of the graph.
    private static void Profile(string dir, CpuBackend cpu, AutoencoderKlOptions options, float[] latent, int h, byte[] onnx, int size, int threads, int runs)
    {
        var prof = new OpProfiler(cpu);
        using var z = Tensor.FromArray(prof, latent, 1, PeerVaeNetwork.Latent, h, h);
        string label = $"vae-decode-{size}-t{threads}";
        using (var vae = AutoencoderKl.Open(prof, dir, options))
            PeerPpOcrRec.Profile(prof, label, runs, () => { using var _ = vae.Decode(z); });
        string onnxPath = Path.Combine(dir, $"{label}.onnx");
        File.WriteAllBytes(onnxPath, onnx);
        PeerPpOcrRec.ProfileOrt(onnxPath, threads, latent, [1, PeerVaeNetwork.Latent, h, h], label, runs);
    }

    private static void CpuTimed(List<double> cpuMs, Action run)
    {
        double c0 = ThreadCpuClock.NowMsOrNaN();
        run();
        cpuMs.Add(ThreadCpuClock.NowMsOrNaN() - c0);
    }

    private static double Median(List<double> ms)
    {
        ms.Sort();
        return ms[ms.Count / 2];
    }
}
