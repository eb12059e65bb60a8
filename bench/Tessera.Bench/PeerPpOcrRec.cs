using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Models;

namespace Tessera.Bench;

/// <summary>`peer ppocr-rec [--threads T] [--width W] [--batch B] [--rounds N] [--models DIR]`: one PP-OCRv4 text-line
/// recognition (the network, input [B, 3, 48, W] to probabilities) by Tessera's PpOcrRecognizer and by ONNX Runtime on
/// the same ch_PP-OCRv4_rec_infer.onnx, same input, same process, interleaved rounds. One JSON line per engine with
/// the median and minimum milliseconds, then one with the ratio and the largest probability difference.</summary>
public static class PeerPpOcrRec
{
    public static int Run(Args args)
    {
        int threads = args.Int("threads", 1), width = args.Int("width", 320), batch = args.Int("batch", 1), rounds = args.Int("rounds", 15);
        string dir = args.Str("models", FindModels());
        string model = Path.Combine(dir, "ch_PP-OCRv4_rec_infer.onnx"), keys = Path.Combine(dir, "ppocr_keys_v1.txt");
        var rng = new Random(3);
        var input = new float[batch * 3 * 48 * width];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 2 - 1);

        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var rec = PpOcrRecognizer.Load(model, keys, cpu);
        using var x = Tensor.FromArray(cpu, input, batch, 3, 48, width);
        float[]? ours = null;
        void Tessera() { using var p = rec.Forward(x); ours ??= p.ToFloatArray(); }

        using var opts = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(model, opts);
        using var xv = OrtValue.CreateTensorValueFromMemory(input, [batch, 3, 48, width]);
        using var run = new RunOptions();
        var inputs = new Dictionary<string, OrtValue> { ["x"] = xv };
        float[]? theirs = null;
        void Ort()
        {
            using var outs = session.Run(run, inputs, session.OutputNames);
            theirs ??= outs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        var engines = new (string Name, Action Run, List<double> Ms)[] { ("tessera", Tessera, []), ("onnxruntime", Ort, []) };
        foreach (var e in engines) for (int i = 0; i < 5; i++) e.Run(); // JIT tiers, packing, ORT's arena
        var sw = new Stopwatch();
        for (int r = 0; r < rounds; r++)
            foreach (var e in engines)
                for (int i = 0; i < 3; i++)
                {
                    sw.Restart();
                    e.Run();
                    e.Ms.Add(sw.Elapsed.TotalMilliseconds);
                }
        var ci = CultureInfo.InvariantCulture;
        var med = new Dictionary<string, double>();
        foreach (var e in engines)
        {
            e.Ms.Sort();
            med[e.Name] = e.Ms[e.Ms.Count / 2];
            Console.WriteLine(string.Create(ci,
                $"{{\"model\":\"ppocr-v4-rec\",\"engine\":\"{e.Name}\",\"batch\":{batch},\"width\":{width},\"threads\":{threads},\"reps\":{e.Ms.Count},\"ms_median\":{med[e.Name]:F3},\"ms_min\":{e.Ms[0]:F3}}}"));
        }
        double maxDiff = 0;
        for (int i = 0; i < theirs!.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(theirs[i] - ours![i]));
        Console.WriteLine(string.Create(ci,
            $"{{\"model\":\"ppocr-v4-rec\",\"batch\":{batch},\"width\":{width},\"threads\":{threads},\"ort_over_tessera\":{med["onnxruntime"] / med["tessera"]:F3},\"max_abs_diff_probs\":{maxDiff:E2}}}"));
        return 0;
    }

    internal static string FindModels()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "models", "ppocr-v4", "ch_PP-OCRv4_rec_infer.onnx")))
                    return Path.Combine(d.FullName, "models", "ppocr-v4");
        throw new FileNotFoundException("models/ppocr-v4 not found; pass --models DIR");
    }
}
