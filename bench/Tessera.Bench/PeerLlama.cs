using System.Diagnostics;
using System.Globalization;
using Tessera.Cpu;
using Tessera.Models;

namespace Tessera.Bench;

/// <summary>`peer llama [--shapes llama-110m,tinyllama-1.1b] [--types f32,q8_0,q4_0] [--threads 1,2] [--prompt 128]
/// [--decode 32] [--rounds 3] [--warmup-ms 3000] [--settle-ms 300] [--dir DIR] [--all] [--profile 1] [--kv f32|f16]`: Tessera's
/// decoder and llama.cpp (LLamaSharp) on the same GGUF files with random weights (written once into --dir), in one
/// process. Per case (shape x type x threads) each engine is warmed up by time, then the engines take turns, a pause
/// before each turn, each turn one generation from an empty cache: a prefill of --prompt tokens (logits of the last
/// only), then --decode greedy decode steps, each timed. One JSON line per engine (prefill tok/s; decode ms/token,
/// tok/s and GB/s of weights read; Tessera's resident memory against the file + KV cache + 64 MB budget), then a
/// summary line whose ratios are llama.cpp's time over Tessera's (&gt;= 1: Tessera faster). With one thread the decode
/// step's CPU time on the calling thread is reported too (and its ratio): on a shared machine it is steadier than wall time. TinyLlama in f32 (4.4 GB)
/// is left out unless --all. `--kv f16` gives both engines an f16 KV cache (llama.cpp's own default; f32 unless given). `--profile 1` adds Tessera's per-op decode times (OpProfiler: wall, thread CPU, managed allocation), the time spent
/// outside the ops included.</summary>
public static class PeerLlama
{
    private sealed record Timings(List<double> PrefillMs, List<double> DecodeMs, List<double> DecodeCpuMs);

    public static int Run(Args args)
    {
        var shapes = args.Str("shapes", "llama-110m,tinyllama-1.1b").Split(',').Select(PeerLlamaShape.Named).ToArray();
        var types = args.Str("types", "f32,q8_0,q4_0").Split(',').Select(DTypeInfo.Parse).ToArray();
        var threadCounts = args.Str("threads", "1").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        int prompt = args.Int("prompt", 128), decode = args.Int("decode", 32), rounds = args.Int("rounds", 3);
        int warmupMs = args.Int("warmup-ms", 3000), settleMs = args.Int("settle-ms", 300);
        bool all = args.Int("all", 0) != 0, profile = args.Int("profile", 0) != 0;
        var kvType = DTypeInfo.Parse(args.Str("kv", "f32"));
        if (kvType is not (DType.F32 or DType.F16)) throw new ArgumentException($"--kv must be f32 or f16, got {kvType.Name()}");
        string dir = args.Str("dir", Path.Combine(Path.GetTempPath(), "tessera-peer-llama"));
        if (PeerLlamaCpp.Unavailable is { } why) Console.Error.WriteLine($"llama.cpp is unavailable ({why}): Tessera only");

        foreach (var shape in shapes)
            foreach (var type in types)
            {
                if (shape == PeerLlamaShape.TinyLlama && type == DType.F32 && !all)
                {
                    Console.Error.WriteLine("skipping tinyllama-1.1b f32 (a 4.4 GB file): pass --all to include it");
                    continue;
                }
                string path = PeerLlamaGguf.Ensure(dir, shape, type);
                var ids = PromptIds(shape.Vocab, prompt);
                bool first = true;
                foreach (int threads in threadCounts)
                {
                    RunCase(shape, type, path, ids, decode, threads, rounds, warmupMs, settleMs, measureRss: first, profile, kvType);
                    first = false;
                }
            }
        return 0;
    }

    private static void RunCase(PeerLlamaShape shape, DType type, string path, int[] ids, int decode, int threads,
        int rounds, int warmupMs, int settleMs, bool measureRss, bool profile, DType kvType)
    {
        var ci = CultureInfo.InvariantCulture;
        int context = ids.Length + decode;
        long fileBytes = new FileInfo(path).Length, weightBytes = PeerLlamaGguf.DecodeWeightBytes(shape, type);
        long rss0 = ProcessMemory.Rss();
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var model = LlamaLoader.Open(cpu, path, contextLength: context);
        var logits = new float[shape.Vocab];
        long allocated = 0;
        Timings TesseraTurn(Timings t)
        {
            using var cache = model.CreateCache(context, kvType: kvType);
            long t0 = Stopwatch.GetTimestamp();
            int next;
            using (var y = model.Forward(ids, cache, lastOnly: true)) { y.CopyTo<float>(logits); next = ArgMax(logits); }
            t.PrefillMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < decode; i++)
            {
                t0 = Stopwatch.GetTimestamp();
                double c0 = ThreadCpuClock.NowMsOrNaN();
                using (var y = model.Forward([next], cache, lastOnly: true)) { y.CopyTo<float>(logits); next = ArgMax(logits); }
                t.DecodeCpuMs.Add(ThreadCpuClock.NowMsOrNaN() - c0);
                t.DecodeMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            allocated = (GC.GetAllocatedBytesForCurrentThread() - a0) / Math.Max(decode, 1);
            return t;
        }
        var engines = new List<(string Name, Func<Timings, Timings> Turn, Timings Times)>
        {
            ("tessera", TesseraTurn, new([], [], [])),
        };
        Warm(TesseraTurn, warmupMs);
        long rssTessera = measureRss ? ProcessMemory.Rss() - rss0 : -1;

        PeerLlamaCpp? peer = PeerLlamaCpp.Unavailable is null ? new PeerLlamaCpp(path, context, ids.Length, threads, halfKv: kvType == DType.F16) : null;
        try
        {
            if (peer != null)
            {
                Timings PeerTurn(Timings t)
                {
                    peer.Reset();
                    long t0 = Stopwatch.GetTimestamp();
                    int next = peer.Step(ids, 0);
                    t.PrefillMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    for (int i = 0; i < decode; i++)
                    {
                        t0 = Stopwatch.GetTimestamp();
                        double c0 = ThreadCpuClock.NowMsOrNaN();
                        next = peer.Step([next], ids.Length + i);
                        t.DecodeCpuMs.Add(ThreadCpuClock.NowMsOrNaN() - c0);
                        t.DecodeMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    }
                    return t;
                }
                engines.Add(("llama.cpp", PeerTurn, new([], [], [])));
                Warm(PeerTurn, warmupMs);
            }
            for (int r = 0; r < rounds; r++)
                foreach (var (_, turn, times) in engines)
                {
                    Thread.Sleep(settleMs);
                    turn(times);
                }
        }
        finally { peer?.Dispose(); }

        var med = new Dictionary<string, (double Prefill, double Decode, double DecodeCpu)>();
        string extraCpu = "";
        foreach (var (name, _, times) in engines)
        {
            double prefill = Median(times.PrefillMs), dec = Median(times.DecodeMs), decCpu = Median(times.DecodeCpuMs);
            med[name] = (prefill, dec, decCpu);
            // With one thread the whole step runs on the calling thread (llama.cpp too): its CPU time is the step's cost
            // without the time other processes held the core.
            if (threads == 1) extraCpu = string.Create(ci, $",\"decode_thread_cpu_ms_per_token\":{decCpu:F3}");
            string extra = name != "tessera" ? "" : string.Create(ci, $",\"managed_alloc_bytes_per_token\":{allocated}")
                + (rssTessera < 0 ? "" : string.Create(ci,
                    $",\"rss_mb\":{rssTessera / 1e6:F1},\"rss_budget_mb\":{(fileBytes + shape.KvBytes(context)) / 1e6 + 64:F1}"));
            Console.WriteLine(string.Create(ci,
                $"{{\"bench\":\"llama\",\"engine\":\"{name}\",\"shape\":\"{shape.Name}\",\"type\":\"{type.Name()}\",\"threads\":{threads},\"kv\":\"{kvType.Name()}\"," +
                $"\"file_mb\":{fileBytes / 1e6:F1},\"prompt_tokens\":{ids.Length},\"decode_tokens\":{decode},\"rounds\":{rounds}," +
                $"\"prefill_ms\":{prefill:F2},\"prefill_tok_s\":{ids.Length / prefill * 1e3:F1},\"decode_ms_per_token\":{dec:F3}," +
                $"\"decode_tok_s\":{1e3 / dec:F2},\"decode_weight_gbps\":{weightBytes / (dec * 1e6):F2}{extraCpu}{extra}}}"));
        }
        if (med.TryGetValue("llama.cpp", out var p))
        {
            var t = med["tessera"];
            string cpuRatio = threads == 1 ? string.Create(ci, $",\"ratio_decode_thread_cpu\":{p.DecodeCpu / t.DecodeCpu:F3}") : "";
            Console.WriteLine(string.Create(ci,
                $"{{\"bench\":\"llama\",\"shape\":\"{shape.Name}\",\"type\":\"{type.Name()}\",\"threads\":{threads}," +
                $"\"ratio_prefill\":{p.Prefill / t.Prefill:F3},\"ratio_decode\":{p.Decode / t.Decode:F3}{cpuRatio}}}"));
        }
        if (profile) Profile(shape, type, path, ids, decode, threads, kvType);
    }

    /// <summary>Tessera's decode steps on a profiling backend: per-op milliseconds per token.</summary>
    private static void Profile(PeerLlamaShape shape, DType type, string path, int[] ids, int decode, int threads, DType kvType)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        var prof = new OpProfiler(cpu, keyLengths: false);
        using var model = LlamaLoader.Open(prof, path, contextLength: ids.Length + decode);
        var logits = new float[shape.Vocab];
        for (int pass = 0; pass < 3; pass++)
        {
            using var cache = model.CreateCache(ids.Length + decode, kvType: kvType);
            using (model.Forward(ids, cache, lastOnly: true)) { }
            if (pass == 2) prof.Reset();
            for (int i = 0; i < decode; i++)
                prof.Whole(() =>
                {
                    using var y = model.Forward([ids[i % ids.Length]], cache, lastOnly: true);
                    y.CopyTo<float>(logits);
                });
        }
        prof.Print($"{shape.Name}-{type.Name()}-t{threads}-decode", decode);
    }

    private static void Warm(Func<Timings, Timings> turn, int ms)
    {
        var sw = Stopwatch.StartNew();
        do turn(new([], [], [])); while (sw.ElapsedMilliseconds < ms);
    }

    private static int[] PromptIds(int vocab, int count)
    {
        var rng = new Random(5);
        var ids = new int[count];
        ids[0] = 1; // BOS
        for (int i = 1; i < count; i++) ids[i] = rng.Next(3, vocab);
        return ids;
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    internal static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}

/// <summary>Resident memory of this process as Linux counts it: RssAnon + RssFile from /proc/self/status (bytes;
/// 0 elsewhere). Mapped weight pages count in RssFile once touched.</summary>
internal static class ProcessMemory
{
    public static long Rss()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        long total = 0;
        foreach (var line in File.ReadLines(status))
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal) || line.StartsWith("RssFile:", StringComparison.Ordinal))
                total += long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        return total;
    }
}
