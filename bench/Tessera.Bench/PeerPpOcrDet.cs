using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Models;

namespace Tessera.Bench;

/// <summary>`peer ppocr-det [--threads T] [--height H] [--width W] [--rounds N] [--models DIR] [--profile N]`: one
/// PP-OCRv4 DB detector forward (normalised image [1, 3, H, W] to the probability map) by Tessera's PpOcrDetector and
/// by ONNX Runtime on the same ch_PP-OCRv4_det_infer.onnx, same input, same process, interleaved rounds. The default
/// 256 x 800 is what the pipeline feeds the detector for models/ppocr-v4/sample.png (800 x 240, sides rounded to
/// multiples of 32). Prints as `peer ppocr-rec` does; `--profile N` prints Tessera's time per op instead.</summary>
public static class PeerPpOcrDet
{
    public static int Run(Args args)
    {
        int threads = args.Int("threads", 1), height = args.Int("height", 256), width = args.Int("width", 800), rounds = args.Int("rounds", 7);
        string dir = args.Str("models", PeerPpOcrRec.FindModels());
        string model = Path.Combine(dir, "ch_PP-OCRv4_det_infer.onnx");
        var rng = new Random(4);
        var input = new float[3 * height * width];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 4 - 2);

        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        int profile = args.Int("profile", 0);
        if (profile > 0)
        {
            var prof = new OpProfiler(cpu);
            using var pdet = PpOcrDetector.Load(model, prof);
            using var px = Tensor.FromArray(prof, input, 1, 3, height, width);
            PeerPpOcrRec.Profile(prof, "ppocr-v4-det", profile, () => { using var _ = pdet.Forward(px); });
            return PeerPpOcrRec.ProfileOrt(model, threads, input, [1, 3, height, width], "ppocr-v4-det", profile);
        }
        using var det = PpOcrDetector.Load(model, cpu);
        using var x = Tensor.FromArray(cpu, input, 1, 3, height, width);
        float[]? ours = null;
        void Tessera() { using var p = det.Forward(x); ours ??= p.ToFloatArray(); }

        using var opts = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(model, opts);
        using var xv = OrtValue.CreateTensorValueFromMemory(input, [1, 3, height, width]);
        using var run = new RunOptions();
        var inputs = new Dictionary<string, OrtValue> { [session.InputNames[0]] = xv };
        float[]? theirs = null;
        void Ort()
        {
            using var outs = session.Run(run, inputs, session.OutputNames);
            theirs ??= outs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        var engines = new (string Name, Action Run, List<double> Ms)[] { ("tessera", Tessera, []), ("onnxruntime", Ort, []) };
        var med = PeerPpOcrRec.Interleave(engines, rounds);
        var ci = CultureInfo.InvariantCulture;
        foreach (var e in engines)
            Console.WriteLine(string.Create(ci,
                $"{{\"model\":\"ppocr-v4-det\",\"engine\":\"{e.Name}\",\"height\":{height},\"width\":{width},\"threads\":{threads},\"reps\":{e.Ms.Count},\"ms_median\":{med[e.Name]:F3},\"ms_min\":{e.Ms[0]:F3}}}"));
        double maxDiff = 0;
        for (int i = 0; i < theirs!.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(theirs[i] - ours![i]));
        Console.WriteLine(string.Create(ci,
            $"{{\"model\":\"ppocr-v4-det\",\"height\":{height},\"width\":{width},\"threads\":{threads},\"ort_over_tessera\":{med["onnxruntime"] / med["tessera"]:F3},\"max_abs_diff_probs\":{maxDiff:E2}}}"));
        return 0;
    }
}
