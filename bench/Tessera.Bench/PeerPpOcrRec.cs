using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Models;

namespace Tessera.Bench;

/// <summary>`peer ppocr-rec [--threads T] [--width W] [--batch B] [--rounds N] [--models DIR]`: one PP-OCRv4 text-line
/// recognition (the network, input [B, 3, 48, W] to probabilities) by Tessera's PpOcrRecognizer and by ONNX Runtime on
/// the same ch_PP-OCRv4_rec_infer.onnx, same input, same process, interleaved rounds. One JSON line per engine with
/// the median and minimum milliseconds, then one with the ratio and the largest probability difference. `--profile N`
/// instead runs Tessera's forward N times through <see cref="OpProfiler"/> and prints the time per op.</summary>
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
        int profile = args.Int("profile", 0);
        if (profile > 0)
        {
            var prof = new OpProfiler(cpu);
            using var prec = PpOcrRecognizer.Load(model, keys, prof);
            using var px = Tensor.FromArray(prof, input, batch, 3, 48, width);
            Profile(prof, "ppocr-v4-rec", profile, () => { using var _ = prec.Forward(px); });
            return ProfileOrt(model, threads, input, [batch, 3, 48, width], "ppocr-v4-rec", profile);
        }
        using var rec = PpOcrRecognizer.Load(model, keys, cpu);
        using var x = Tensor.FromArray(cpu, input, batch, 3, 48, width);
        SettleMs = args.Int("settle-ms", SettleMs);
        int solo = args.Int("solo", 0);
        if (solo > 0) return Solo("ppocr-v4-rec", threads, solo, () => { using var _ = rec.Forward(x); });
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
        var med = Interleave(engines, rounds);
        var ci = CultureInfo.InvariantCulture;
        foreach (var e in engines)
            Console.WriteLine(string.Create(ci,
                $"{{\"model\":\"ppocr-v4-rec\",\"engine\":\"{e.Name}\",\"batch\":{batch},\"width\":{width},\"threads\":{threads},\"reps\":{e.Ms.Count},\"ms_median\":{med[e.Name]:F3},\"ms_min\":{e.Ms[0]:F3}}}"));
        double maxDiff = 0;
        for (int i = 0; i < theirs!.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(theirs[i] - ours![i]));
        Console.WriteLine(string.Create(ci,
            $"{{\"model\":\"ppocr-v4-rec\",\"batch\":{batch},\"width\":{width},\"threads\":{threads},\"ort_over_tessera\":{med["onnxruntime"] / med["tessera"]:F3},\"max_abs_diff_probs\":{maxDiff:E2}}}"));
        return 0;
    }

    /// <summary>Warms every engine up (JIT tiers, packing, ORT's arena), then runs them interleaved, three calls each
    /// per round; returns each engine's median milliseconds (its list sorted).</summary>
    internal static Dictionary<string, double> Interleave((string Name, Action Run, List<double> Ms)[] engines, int rounds)
    {
        foreach (var e in engines) WarmUp(e.Run);
        var sw = new Stopwatch();
        for (int r = 0; r < rounds; r++)
            foreach (var e in engines)
            {
                // Let the previous engine's idle threads stop spinning: ONNX Runtime's workers spin on after a run, and
                // on two cores one spinning thread takes a core from the next engine's two-thread run.
                Thread.Sleep(SettleMs);
                for (int i = 0; i < 3; i++)
                {
                    sw.Restart();
                    e.Run();
                    e.Ms.Add(sw.Elapsed.TotalMilliseconds);
                }
            }
        var med = new Dictionary<string, double>();
        if (Environment.GetEnvironmentVariable("TESSERA_BENCH_TRACE") == "1")
            foreach (var e in engines)
                Console.WriteLine(e.Name + ": " + string.Join(" ", e.Ms.Select(v => v.ToString("F1", CultureInfo.InvariantCulture))));
        foreach (var e in engines)
        {
            e.Ms.Sort();
            med[e.Name] = e.Ms[e.Ms.Count / 2];
        }
        return med;
    }

    /// <summary>Runs <paramref name="run"/> at least 5 times and for at least <see cref="WarmUpSeconds"/>. .NET's tiered JIT
    /// promotes a method after 30 calls and a quiet 100 ms, and many of a forward's methods run once per forward: five
    /// warm-up forwards left the first 30 or so measured ones in tier-0 code (a PP-OCR rec line fell from 30 to 19 ms
    /// over 40 consecutive forwards), so a short warm-up measured the JIT rather than the kernels.</summary>
    internal static void WarmUp(Action run)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 5 || (sw.Elapsed.TotalSeconds < WarmUpSeconds && i < 400); i++) run();
    }

    /// <summary>Pause before each engine's turn in <see cref="Interleave"/>.</summary>
    internal static int SettleMs = 30;

    /// <summary>Least warm-up time per engine.</summary>
    internal const double WarmUpSeconds = 3;

    /// <summary>`--solo N`: Tessera alone (no peer in the process), N forwards after a warm-up: the median and minimum
    /// milliseconds and what the garbage collector did meanwhile, to tell our own time from interference.</summary>
    internal static int Solo(string model, int threads, int runs, Action forward)
    {
        WarmUp(forward);
        int gc0 = GC.CollectionCount(0), gc2 = GC.CollectionCount(2);
        var pause0 = GC.GetTotalPauseDuration();
        var wall = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            forward();
            wall.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        if (Environment.GetEnvironmentVariable("TESSERA_BENCH_TRACE") == "1")
            Console.WriteLine(string.Join(" ", wall.Select(v => v.ToString("F1", CultureInfo.InvariantCulture))));
        wall.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"model\":\"{model}\",\"engine\":\"tessera\",\"threads\":{threads},\"solo_ms_median\":{wall[runs / 2]:F3},\"ms_min\":{wall[0]:F3},\"ms_p25\":{wall[runs / 4]:F3},\"ms_p75\":{wall[runs * 3 / 4]:F3},\"gc0\":{GC.CollectionCount(0) - gc0},\"gc2\":{GC.CollectionCount(2) - gc2},\"gc_pause_ms\":{(GC.GetTotalPauseDuration() - pause0).TotalMilliseconds:F1}}}"));
        return 0;
    }

    /// <summary>Warm-up, then <paramref name="runs"/> forwards through the profiler, printed per op.</summary>
    internal static int Profile(OpProfiler prof, string model, int runs, Action forward)
    {
        WarmUp(forward);
        prof.Reset();
        var wall = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            forward();
            wall.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        prof.Print(model, runs);
        wall.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"model\":\"{model}\",\"forward_ms_median\":{wall[runs / 2]:F3},\"forward_ms_mean\":{wall.Average():F3}}}"));
        return 0;
    }

    /// <summary>ONNX Runtime's per-node profile of <paramref name="runs"/> runs (after one unprofiled-in-spirit warm-up
    /// that the profile does include, divided away over the runs).</summary>
    internal static int ProfileOrt(string model, int threads, float[] input, long[] dims, string name, int runs)
    {
        using var opts = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, EnableProfiling = true,
            ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "tessera-ort-profile"),
        };
        using var session = new InferenceSession(model, opts);
        using var xv = OrtValue.CreateTensorValueFromMemory(input, dims);
        using var run = new RunOptions();
        var inputs = new Dictionary<string, OrtValue> { [session.InputNames[0]] = xv };
        OrtProfile.Print(session, name, runs, () =>
        {
            for (int i = 0; i < runs; i++) { using var outs = session.Run(run, inputs, session.OutputNames); }
        });
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
