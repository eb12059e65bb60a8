using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Vision;

namespace Tessera.Bench;

/// <summary>`peer vit [--models vit-b16,clip-b32] [--batches 1,8] [--threads 1,2] [--precisions f32,int8] [--rounds N]
/// [--settle-ms MS] [--profile RUNS]`:
/// ViT-B/16 224 (ViTForImageClassification logits) and CLIP ViT-B/32's image tower (projected features), random
/// weights, Tessera (the Vit / Clip models loaded from a safetensors checkpoint in the published layout) against
/// ONNX Runtime on an ONNX graph of the same network, same process, same thread count, interleaved rounds. "f32": both
/// in fp32; "int8": Tessera's linears quantized to Q8_0 at load (activations to Q8_0 per 32-value block on every run),
/// ONNX Runtime's as quantize_dynamic makes them (DynamicQuantizeMatMul: int8 weights per column, uint8 activations per
/// tensor). One JSON line per engine (ms median, images/s), then a summary whose ratio is ORT's time over Tessera's
/// (>= 1: Tessera faster) with the largest output difference and, for int8, each engine's largest difference from the
/// fp32 network. `--profile RUNS` prints instead Tessera's per-op times (OpProfiler)
/// beside ONNX Runtime's own per-node profile of the same graph.</summary>
public static class PeerVit
{
    public static int Run(Args args)
    {
        var models = args.Str("models", "vit-b16,clip-b32").Split(',');
        var batches = args.Str("batches", "1,8").Split(',').Select(int.Parse).ToArray();
        var threadCounts = args.Str("threads", "1,2").Split(',').Select(int.Parse).ToArray();
        var precisions = args.Str("precisions", "f32,int8").Split(',');
        if (precisions.Any(p => p is not ("f32" or "int8"))) throw new ArgumentException($"--precisions takes f32 and int8, not '{args.Str("precisions", "")}'");
        int rounds = args.Int("rounds", 5), settle = args.Int("settle-ms", 50), profile = args.Int("profile", 0);
        var ci = CultureInfo.InvariantCulture;
        foreach (var name in models)
        {
            var net = new PeerVitNetwork(name.StartsWith("vit", StringComparison.Ordinal) ? "vit" : "clip");
            string dir = Path.Combine(Path.GetTempPath(), $"tessera-peer-{name}-{Environment.ProcessId}");
            net.WriteCheckpoint(dir);
            try
            {
                foreach (int batch in batches)
                {
                    var rng = new Random(3);
                    var pixels = new float[batch * 3 * net.Image * net.Image];
                    for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(rng.NextDouble() * 2 - 1);
                    foreach (var precision in precisions)
                    foreach (int threads in threadCounts)
                    {
                        bool int8 = precision == "int8";
                        byte[] onnx = net.Onnx(batch, int8);
                        var load = int8 ? new VisionLoadOptions(DType.Q8_0) : null;
                        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
                        if (profile > 0)
                        {
                            Profile(net, name, dir, cpu, pixels, batch, onnx, threads, profile, load, precision);
                            continue;
                        }
                        using var x = Tensor.FromArray(cpu, pixels, batch, 3, net.Image, net.Image);
                        Func<Tensor> forward;
                        IDisposable model;
                        if (net.Kind == "vit")
                        {
                            var vit = Vit.Load(cpu, dir, load);
                            (model, forward) = (vit, () => vit.Logits(x));
                        }
                        else
                        {
                            var clip = Clip.Load(cpu, dir, load);
                            (model, forward) = (clip, () => clip.ImageFeatures(x));
                        }
                        using var _ = model;
                        using var opts = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
                        using var session = new InferenceSession(onnx, opts);
                        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, net.Image, net.Image]);
                        var y = new float[batch * net.Outputs];
                        using var output = OrtValue.CreateTensorValueFromMemory(y, [batch, net.Outputs]);
                        using var binding = session.CreateIoBinding();
                        binding.BindInput("pixels", input);
                        binding.BindOutput("y", output);
                        using var runOptions = new RunOptions();
                        float[]? mine = null;
                        var tessera = (Run: (Action)(() => { using var o = forward(); mine ??= o.ToFloatArray(); }), Ms: new List<double>());
                        var ort = (Run: (Action)(() => session.RunWithBinding(runOptions, binding)), Ms: new List<double>());
                        PeerRounds.Run([tessera, ort], rounds, reps: args.Int("reps", 0), settle, targetMs: 400, maxReps: 20, warmRuns: 3);
                        double maxDiff = 0, maxRef = 0;
                        for (int i = 0; i < y.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(y[i] - mine![i])); maxRef = Math.Max(maxRef, Math.Abs(y[i])); }
                        double tMs = Median(tessera.Ms), oMs = Median(ort.Ms);
                        foreach (var (engine, ms) in new[] { ("tessera", tMs), ("onnxruntime", oMs) })
                            Console.WriteLine(string.Create(ci, $"{{\"op\":\"vit\",\"model\":\"{name}\",\"precision\":\"{precision}\",\"engine\":\"{engine}\",\"batch\":{batch},\"threads\":{threads},\"ms_median\":{ms:F2},\"images_s\":{batch * 1000 / ms:F2}}}"));
                        string fromF32 = "";
                        if (int8)
                        {
                            // How far each engine's int8 output is from the fp32 network (ORT's fp32 graph as the reference).
                            var f32 = OrtOutput(net.Onnx(batch), threads, pixels, batch, net);
                            double tErr = 0, oErr = 0;
                            for (int i = 0; i < y.Length; i++) { tErr = Math.Max(tErr, Math.Abs(mine![i] - f32[i])); oErr = Math.Max(oErr, Math.Abs(y[i] - f32[i])); }
                            fromF32 = string.Create(ci, $",\"tessera_max_abs_diff_from_f32\":{tErr:E2},\"ort_max_abs_diff_from_f32\":{oErr:E2}");
                        }
                        Console.WriteLine(string.Create(ci, $"{{\"op\":\"vit\",\"model\":\"{name}\",\"precision\":\"{precision}\",\"batch\":{batch},\"threads\":{threads},\"ratio_ort_over_tessera\":{oMs / tMs:F3},\"max_abs_diff\":{maxDiff:E2},\"max_abs_output\":{maxRef:F3}{fromF32}}}"));
                    }
                }
            }
            finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
        }
        return 0;
    }

    // Where the time goes: the same forward through OpProfiler, then ONNX Runtime's per-node profile of the graph.
    private static void Profile(PeerVitNetwork net, string name, string dir, CpuBackend cpu, float[] pixels, int batch, byte[] onnx,
        int threads, int runs, VisionLoadOptions? load, string precision)
    {
        var prof = new OpProfiler(cpu);
        using var px = Tensor.FromArray(prof, pixels, batch, 3, net.Image, net.Image);
        string label = $"{name}-{precision}-b{batch}-t{threads}";
        if (net.Kind == "vit")
        {
            using var vit = Vit.Load(prof, dir, load);
            PeerPpOcrRec.Profile(prof, label, runs, () => { using var _ = vit.Logits(px); });
        }
        else
        {
            using var clip = Clip.Load(prof, dir, load);
            PeerPpOcrRec.Profile(prof, label, runs, () => { using var _ = clip.ImageFeatures(px); });
        }
        string onnxPath = Path.Combine(dir, $"{label}.onnx");
        File.WriteAllBytes(onnxPath, onnx);
        PeerPpOcrRec.ProfileOrt(onnxPath, threads, pixels, [batch, 3, net.Image, net.Image], label, runs);
    }

    // One run of an ONNX graph of the network on the pixels.
    private static float[] OrtOutput(byte[] onnx, int threads, float[] pixels, int batch, PeerVitNetwork net)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(onnx, opts);
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, net.Image, net.Image]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["pixels"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double Median(List<double> ms)
    {
        ms.Sort();
        return ms[ms.Count / 2];
    }
}
