using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Models.Diffusion;

namespace Tessera.Bench;

/// <summary>`peer dit [--models xl,b] [--batch 2] [--threads 1,2] [--rounds N] [--settle-ms MS] [--parts dit,vae]
/// [--profile RUNS]`: one denoising step of a DiT (XL/2 or B/2 at 256x256: 256 tokens; batch 2, the conditional and
/// null-class halves of classifier-free guidance), random weights, fp32: Tessera (the original checkpoint layout read
/// by DitOriginal) against ONNX Runtime on an ONNX graph of the same network, same process, same thread count,
/// interleaved rounds with a settle pause and warm-up by time. One JSON line per engine (ms per step), then a summary
/// whose ratio is ORT's time over Tessera's (>= 1: Tessera faster) with the largest output difference.
/// `--parts` names the parts to run: dit (the default) and vae (SD's AutoencoderKL decoder: <see cref="PeerVaeDecoder"/>,
/// with its own options such as --sizes). `--profile RUNS` prints instead
/// Tessera's per-op times (OpProfiler) beside ONNX Runtime's per-node profile.</summary>
public static class PeerDit
{
    public static int Run(Args args)
    {
        foreach (var part in args.Str("parts", "dit").Split(','))
        {
            int rc = part switch
            {
                "dit" => RunDit(args),
                "vae" => PeerVaeDecoder.Run(args),
                _ => Unknown(part),
            };
            if (rc != 0) return rc;
        }
        return 0;
    }

    private static int Unknown(string part)
    {
        Console.Error.WriteLine($"peer dit: unknown part '{part}' (parts: dit, vae)");
        return 2;
    }

    // The transformer step, per model and thread count.
    private static int RunDit(Args args)
    {
        var models = args.Str("models", "xl,b").Split(',');
        var threadCounts = args.Str("threads", "1,2").Split(',').Select(int.Parse).ToArray();
        int batch = args.Int("batch", 2), rounds = args.Int("rounds", 5), settle = args.Int("settle-ms", 200), profile = args.Int("profile", 0);
        var ci = CultureInfo.InvariantCulture;
        foreach (var name in models)
        {
            var net = new PeerDitNetwork(name);
            string dir = Path.Combine(Path.GetTempPath(), $"tessera-peer-dit-{name}-{Environment.ProcessId}");
            Directory.CreateDirectory(dir);
            try
            {
                string checkpoint = Path.Combine(dir, "dit.safetensors");
                net.WriteCheckpoint(checkpoint);
                string onnx = net.WriteOnnx(dir, batch);
                var rng = new Random(5);
                var x = new float[batch * net.InChannels * net.LatentSide * net.LatentSide];
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                var t = Enumerable.Repeat(500f, batch).ToArray();
                // The CFG pair: class 207 for the first half, the null class for the second.
                var y = Enumerable.Range(0, batch).Select(i => i < (batch + 1) / 2 ? 207L : net.Classes).ToArray();
                var yi = y.Select(v => (int)v).ToArray();
                long[] xDims = [batch, net.InChannels, net.LatentSide, net.LatentSide];
                foreach (int threads in threadCounts)
                {
                    using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
                    using var opts = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
                    string label = $"dit-{name}-b{batch}-t{threads}";
                    if (profile > 0)
                    {
                        var prof = new OpProfiler(cpu);
                        using var pm = Dit.Open(prof, checkpoint);
                        using var px = Tensor.FromArray(prof, x, batch, net.InChannels, net.LatentSide, net.LatentSide);
                        using var pt = Tensor.FromArray(prof, t, batch);
                        PeerPpOcrRec.Profile(prof, label, profile, () => { using var _ = pm.Forward(px, pt, yi); });
                        opts.EnableProfiling = true;
                        opts.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "tessera-ort-profile");
                        using var ps = new InferenceSession(onnx, opts);
                        using var pxv = OrtValue.CreateTensorValueFromMemory(x, xDims);
                        using var ptv = OrtValue.CreateTensorValueFromMemory(t, [batch]);
                        using var pyv = OrtValue.CreateTensorValueFromMemory(y, [batch]);
                        using var pro = new RunOptions();
                        var feeds = new Dictionary<string, OrtValue> { ["x"] = pxv, ["t"] = ptv, ["y"] = pyv };
                        OrtProfile.Print(ps, label, profile, () => { for (int i = 0; i < profile; i++) { using var o = ps.Run(pro, feeds, ps.OutputNames); } });
                        continue;
                    }
                    using var model = Dit.Open(cpu, checkpoint);
                    using var xt = Tensor.FromArray(cpu, x, batch, net.InChannels, net.LatentSide, net.LatentSide);
                    using var tt = Tensor.FromArray(cpu, t, batch);
                    using var session = new InferenceSession(onnx, opts);
                    using var xv = OrtValue.CreateTensorValueFromMemory(x, xDims);
                    using var tv = OrtValue.CreateTensorValueFromMemory(t, [batch]);
                    using var yv = OrtValue.CreateTensorValueFromMemory(y, [batch]);
                    var outValues = new float[x.Length * net.OutChannels / net.InChannels];
                    using var output = OrtValue.CreateTensorValueFromMemory(outValues, [batch, net.OutChannels, net.LatentSide, net.LatentSide]);
                    using var binding = session.CreateIoBinding();
                    binding.BindInput("x", xv);
                    binding.BindInput("t", tv);
                    binding.BindInput("y", yv);
                    binding.BindOutput("out", output);
                    using var runOptions = new RunOptions();
                    float[]? mine = null;
                    var tessera = (Run: (Action)(() => { using var o = model.Forward(xt, tt, yi); mine ??= o.ToFloatArray(); }), Ms: new List<double>());
                    var ort = (Run: (Action)(() => session.RunWithBinding(runOptions, binding)), Ms: new List<double>());
                    PeerRounds.Run([tessera, ort], rounds, reps: args.Int("reps", 0), settle, targetMs: 1500, maxReps: 10, warmRuns: 2);
                    double maxDiff = 0, maxRef = 0;
                    for (int i = 0; i < outValues.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(outValues[i] - mine![i])); maxRef = Math.Max(maxRef, Math.Abs(outValues[i])); }
                    double tMs = Median(tessera.Ms), oMs = Median(ort.Ms);
                    foreach (var (engine, ms) in new[] { ("tessera", tMs), ("onnxruntime", oMs) })
                        Console.WriteLine(string.Create(ci, $"{{\"op\":\"dit\",\"model\":\"{name}\",\"engine\":\"{engine}\",\"batch\":{batch},\"tokens\":{net.Tokens},\"threads\":{threads},\"ms_per_step\":{ms:F1}}}"));
                    Console.WriteLine(string.Create(ci, $"{{\"op\":\"dit\",\"model\":\"{name}\",\"batch\":{batch},\"threads\":{threads},\"ratio_ort_over_tessera\":{oMs / tMs:F3},\"max_abs_diff\":{maxDiff:E2},\"max_abs_output\":{maxRef:F3}}}"));
                }
            }
            finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
        }
        return 0;
    }

    private static double Median(List<double> ms)
    {
        ms.Sort();
        return ms[ms.Count / 2];
    }
}
