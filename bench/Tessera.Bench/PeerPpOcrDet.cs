using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Models;

namespace Tessera.Bench;

/// <summary>`peer ppocr-det [--threads T] [--height H] [--width W] [--rounds N] [--models DIR] [--profile N]`: one
/// PP-OCRv4 DB detector forward (normalised image [1, 3, H, W] to the probability map) by Tessera's PpOcrDetector and
/// by ONNX Runtime on the same ch_PP-OCRv4_det_infer.onnx, same input, same process, interleaved rounds. The default
/// 256 x 800 is what the pipeline feeds the detector for models/ppocr-v4/sample.png (800 x 240, sides rounded to
/// multiples of 32). Prints as `peer ppocr-rec` does; `--profile N` prints Tessera's time per op instead;
/// `--conv-ab 1` times the backend's conv2d against the direct conv kernel (Conv/DirectConv) at the detector's dense
/// convs instead.</summary>
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
        if (args.Int("conv-ab", 0) > 0) return ConvAb(cpu, threads, rounds);
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

    // The detector's dense (one group, more than one tap) convs at 256 x 800: x shape, output channels, stride.
    private static readonly (int C, int H, int W, int O, int S)[] DenseConvs =
        [(3, 256, 800, 16, 2), (96, 64, 200, 24, 1), (96, 32, 100, 24, 1), (96, 16, 50, 24, 1), (96, 8, 25, 24, 1),
         (64, 56, 56, 64, 1), (128, 28, 28, 128, 1), (256, 14, 14, 256, 1), (64, 56, 56, 128, 2)];   // and ResNet-like ones, for the dispatch rule

    private static unsafe int ConvAb(CpuBackend cpu, int threads, int rounds)
    {
        var ci = CultureInfo.InvariantCulture;
        var rng = new Random(5);
        foreach (var (c, h, w, o, s) in DenseConvs)
        {
            var p = Conv2dParams.Square(s, 1);
            int oh = Conv2dParams.OutputSize(h, 3, s, 1, 1), ow = Conv2dParams.OutputSize(w, 3, s, 1, 1);
            float[] Draw(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
            using var x = Tensor.FromArray(cpu, Draw(c * h * w), 1, c, h, w);
            using var wt = Tensor.FromArray(cpu, Draw(o * c * 9), o, c, 3, 3);
            using var b = Tensor.FromArray(cpu, Draw(o), o);
            using var d1 = Tensor.Zeros(cpu, DType.F32, new Shape(1, o, oh, ow));
            using var d2 = Tensor.Zeros(cpu, DType.F32, new Shape(1, o, oh, ow));
            float* xp = CpuBackend.Ptr<float>(x), wp = CpuBackend.Ptr<float>(wt), bp = CpuBackend.Ptr<float>(b), dp = CpuBackend.Ptr<float>(d2);
            var engines = new (string Name, Action Run, List<double> Ms)[]
            {
                ("conv2d", () => cpu.Conv2d(x, wt, b, p, d1), []),
                ("direct", () => Tessera.Cpu.Conv.DirectConv.Run(xp, wp, bp, dp, 1, c, h, w, o, 3, 3, oh, ow, p, threads), []),
            };
            var med = PeerPpOcrRec.Interleave(engines, rounds);
            float[] a1 = d1.ToFloatArray(), a2 = d2.ToFloatArray();
            double diff = 0;
            for (int i = 0; i < a1.Length; i++) diff = Math.Max(diff, Math.Abs(a1[i] - a2[i]));
            double gflop = 2.0 * o * c * 9 * oh * ow / 1e9;
            Console.WriteLine(string.Create(ci,
                $"{{\"conv\":\"[1, {c}, {h}, {w}] -> {o} s{s}\",\"threads\":{threads},\"conv2d_ms\":{med["conv2d"]:F3},\"direct_ms\":{med["direct"]:F3},\"direct_gflops\":{gflop / med["direct"] * 1e3:F1},\"max_abs_diff\":{diff:E1}}}"));
        }
        return 0;
    }
}
