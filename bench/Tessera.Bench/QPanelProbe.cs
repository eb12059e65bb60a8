using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Tessera.Cpu.Jit;
using Tessera.Cpu.Quant;

namespace Tessera.Bench;

/// <summary>`peer qpanel [--n 2048 --rows 1,8 --k 768,2048 --types q8_0,q4_0 --weights l2,dram --prefetch-blocks 4
/// --lockstep 1,2,4 --reference 1 --main 1 --rounds 7 --window-ms 30 --dram-mb 256]`: the Q8_0/Q4_0 panel kernels alone
/// on one thread: the run-time emitted AVX512-VNNI kernel as the backend runs it ("emitted": at one row the decode kernel
/// of <see cref="DecodePanelKernelEmitter"/>, 8 panels side by side, and `decode_lockstepL` with L of them; at more rows
/// the general kernel with <see cref="PanelKernelOptions.For"/>), variants of the general kernel ("general" at one row) (software prefetch of the weight stream the given numbers of
/// blocks ahead, none, one integer chain; rows above 4 always have one, so that variant is then the same code: the noise
/// floor), main's managed AVX-512BW kernel on the same bytes read as GGUF rows in place (Q32Kernels512, as
/// QuantRunner.RunQ32 calls it on one thread; at R = 1, 4, 8; --main 0 leaves it out), and the contract's scalar <see cref="Q32PanelReference"/>, at R = 1 and 8 activation rows,
/// K = 768 and 2048, N columns, with the weights resident in L2 (the panels of about 512 KB, passed over again and
/// again) or streaming from DRAM (copies of the whole weight, 256 MB in all, taken in turn, so that each pass reads
/// memory no cache holds). Calls of 8 panels, as a runner makes them. Engines interleaved per round, each in a window
/// of thread CPU time after a warm-up; medians. One JSON line per engine and case (ns per block-panel, i.e. one
/// 32-element block of one 16-column panel for all R rows, and GMAC/s), then per case a summary line whose ratios are
/// each engine's time over the emitted kernel's (>= 1: the emitted kernel is faster).</summary>
internal static unsafe class QPanelProbe
{
    private const int PanelsPerCall = 8;

    // GgufRows: main's managed kernel, reading the same bytes as GGUF rows in place (they are as many: a panel block is
    // 16 GGUF blocks' quants and scales, regrouped), with its own activation data.
    private sealed record Engine(string Name, Action<DType, int, nint> Run, bool GgufRows = false);

    public static int Run(Args args)
    {
        var ci = CultureInfo.InvariantCulture;
        if (EmittedPanelKernels.Unavailable is { } why)
        {
            Console.WriteLine($"{{\"probe\":\"qpanel\",\"skipped\":\"{why}\"}}");
            return 0;
        }
        int n = args.Int("n", 2048), rounds = args.Int("rounds", 7), windowMs = args.Int("window-ms", 30);
        long dramBytes = (long)args.Int("dram-mb", 256) << 20;
        int[] rowCounts = Ints(args.Str("rows", "1,8")), ks = Ints(args.Str("k", "768,2048")), prefetch = Ints(args.Str("prefetch-blocks", "4"));
        var types = args.Str("types", "q8_0,q4_0").Split(',').Select(DTypeInfo.Parse).ToArray();
        var places = args.Str("weights", "l2,dram").Split(',');
        foreach (var t in types)
        {
            foreach (int k in ks)
                foreach (int rows in rowCounts)
                {
                    // The first engine is what the backend runs (the ratios are over it): at one row the decode kernel
                    // (8 panels side by side), else the general kernel with its chosen options.
                    var chosen = PanelKernelOptions.For(t, rows);
                    var engines = new List<Engine>();
                    if (rows == 1)
                    {
                        engines.Add(new Engine("emitted", Decode(t, k / 32, DecodePanelKernelEmitter.Lockstep)));
                        foreach (int l in Ints(args.Str("lockstep", "1,2,4")))
                            engines.Add(new Engine($"decode_lockstep{l}", Decode(t, k / 32, l)));
                    }
                    string general = rows == 1 ? "general" : "emitted";
                    var variants = new List<(string Name, PanelKernelOptions Options)> { (general, chosen) };
                    foreach (int p in prefetch)
                        variants.Add(($"{general}_prefetch{p}", chosen with { PrefetchDistance = p * Q32Panels.BlockBytes(t) }));
                    variants.Add(($"{general}_no_prefetch", chosen with { PrefetchDistance = 0 }));
                    variants.Add(($"{general}_one_chain", chosen with { SplitIntegerChains = false }));
                    engines.AddRange(variants.Select(v => new Engine(v.Name, Native(t, rows, v.Options))));
                    if (args.Int("main", 1) != 0 && Q32Kernels512.Supported && rows is 1 or 4 or 8)
                        engines.Add(new Engine("main_q32", (_, _, _) => { }, GgufRows: true));
                    if (args.Int("reference", 1) != 0)
                        engines.Add(new Engine("reference", (_, _, a) => Q32PanelReference.Run(t, rows, (QPanelArgs*)a)));
                    foreach (string place in places)
                        Measure(ci, t, rows, k, n, place == "dram", dramBytes, rounds, windowMs, engines);
                }
        }
        return 0;
    }

    // A kernel emitted with these options in pages of its own (kept for the process, as the backend's are).
    private static Action<DType, int, nint> Native(DType t, int rows, PanelKernelOptions o)
    {
        var code = ExecutableCode.TryCreate(PanelKernelEmitter.Emit(t, rows, o, OperatingSystem.IsWindows()), out string? why)
            ?? throw new InvalidOperationException($"no executable memory: {why}");
        var fn = (delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)code.Entry;
        return (_, _, a) => fn((QPanelArgs*)a);
    }

    // The one-row kernel the backend runs at decode, specialized for the block count, with l panels side by side.
    private static Action<DType, int, nint> Decode(DType t, int blocks, int l)
    {
        var code = ExecutableCode.TryCreate(DecodePanelKernelEmitter.Emit(t, blocks, Q32Panels.PanelBytes(t, blocks), OperatingSystem.IsWindows(), l)!, out string? why)
            ?? throw new InvalidOperationException($"no executable memory: {why}");
        var fn = (delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)code.Entry;
        return (_, _, a) => fn((QPanelArgs*)a);
    }

    private static void Measure(CultureInfo ci, DType t, int rows, int k, int n, bool dram, long dramBytes, int rounds, int windowMs, List<Engine> engines)
    {
        int blocks = k / 32, allPanels = Q32Panels.Panels(n);
        long panelBytes = Q32Panels.PanelBytes(t, blocks), matrixBytes = allPanels * panelBytes;
        // In L2: as many panels as fit in about 512 KB (Zen 4 has 1 MB per core). From DRAM: whole weights, in turn.
        int panels = dram ? allPanels : (int)Math.Clamp(512 * 1024 / panelBytes, 1, allPanels);
        int copies = dram ? (int)Math.Max(2, dramBytes / matrixBytes) : 1;
        long bytes = dram ? copies * matrixBytes : panels * panelBytes;
        byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)bytes + 64, 64);   // + a 64-byte read past the last GGUF pair
        // Bytes 0x10..0x3F: any f16 they make is a finite normal below 2 (scales), any quant is valid.
        ulong state = 0x9E3779B97F4A7C15;
        for (long i = 0; i < bytes; i += 8)
        {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            *(ulong*)(w + i) = (state & 0x2F2F2F2F2F2F2F2F) | 0x1010101010101010;
        }
        long actStride = rows * Q32ActRecords.RecordBytes;
        byte* act = (byte*)NativeMemory.AlignedAlloc((nuint)(blocks * actStride), 64);
        var rng = new Random(1);
        for (int b = 0; b < blocks; b++)
            for (int r = 0; r < rows; r++)
            {
                byte* rec = act + b * actStride + r * Q32ActRecords.RecordBytes;
                rng.NextBytes(new Span<byte>(rec, 32));
                *(int*)(rec + Q32ActRecords.CorrAt) = rng.Next(-100000, 100000);
                *(float*)(rec + Q32ActRecords.ScaleAt) = (float)rng.NextDouble() * 0.01f;
            }
        float* dst = (float*)NativeMemory.AlignedAlloc((nuint)(rows * allPanels * 16 * 4), 64);
        using var xq = new QuantizedRows(ActKind.Block32, rows, k, pairs: true);
        var x = new float[rows * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() * 2 - 1;
        fixed (float* xp = x) xq.Quantize(xp, 0, rows);
        int copy = 0;
        // One pass: every panel of the current copy once, in calls of 8 panels.
        void Pass(Engine e)
        {
            byte* m = w + (long)(copy++ % copies) * (dram ? matrixBytes : 0);
            if (e.GgufRows)
            {
                if (t == DType.Q8_0) MainPass<Q8_0Pair>(rows, m, panels * 16, blocks, xq, dst, allPanels * 16);
                else MainPass<Q4_0Pair>(rows, m, panels * 16, blocks, xq, dst, allPanels * 16);
                return;
            }
            var a = new QPanelArgs { Act = act, ActBlockStride = actStride, DstRowStride = allPanels * 16, PanelBytes = panelBytes, Blocks = blocks, LastCols = 16 };
            for (int p = 0; p < panels; p += PanelsPerCall)
            {
                a.Weights = m + p * panelBytes;
                a.Dst = dst + p * 16;
                a.Panels = Math.Min(PanelsPerCall, panels - p);
                e.Run(t, rows, (nint)(&a));
            }
        }
        var ns = engines.ToDictionary(e => e.Name, _ => new List<double>());
        var sw = Stopwatch.StartNew();
        foreach (var e in engines) { sw.Restart(); while (sw.ElapsedMilliseconds < 100) Pass(e); }
        for (int round = 0; round < rounds; round++)
            foreach (var e in engines)
            {
                Thread.Sleep(2);   // settle
                int passes = 0;
                double c0 = ThreadCpuClock.NowMsOrNaN();
                sw.Restart();
                do { Pass(e); passes++; } while (sw.ElapsedMilliseconds < windowMs);
                double ms = ThreadCpuClock.Available ? ThreadCpuClock.NowMs() - c0 : sw.Elapsed.TotalMilliseconds;
                ns[e.Name].Add(ms * 1e6 / passes);
            }
        NativeMemory.AlignedFree(w); NativeMemory.AlignedFree(act); NativeMemory.AlignedFree(dst);

        string where = dram ? "dram" : "l2";
        double macs = (double)rows * panels * 16 * k, emitted = Median(ns["emitted"]);
        foreach (var e in engines)
        {
            double med = Median(ns[e.Name]);
            Console.WriteLine(string.Create(ci,
                $"{{\"probe\":\"qpanel\",\"engine\":\"{e.Name}\",\"type\":\"{t}\",\"rows\":{rows},\"k\":{k},\"n\":{panels * 16},\"weights\":\"{where}\",\"ns_per_block_panel\":{med / ((double)blocks * panels):F2},\"gmacs\":{macs / med:F2},\"us_per_pass\":{med / 1e3:F1}}}"));
        }
        string ratios = string.Join(",", engines.Skip(1).Select(e => string.Create(ci, $"\"{e.Name}_over_emitted\":{Median(ns[e.Name]) / emitted:F3}")));
        Console.WriteLine(string.Create(ci, $"{{\"probe\":\"qpanel\",\"summary\":true,\"type\":\"{t}\",\"rows\":{rows},\"k\":{k},\"weights\":\"{where}\",{ratios}}}"));
    }

    // What QuantRunner.RunQ32 runs on one thread for this tile: 4 weight rows a call at 1 row (Cols4), 4 or 8 activation
    // rows per weight row otherwise (n rows of the matrix at w, GGUF blocks).
    private static void MainPass<TB>(int rows, byte* w, int n, int blocks, QuantizedRows xq, float* dst, long dstRowStride) where TB : struct, IQ32Pair
    {
        long rowBytes = (long)blocks * TB.Bytes;
        for (int j = 0; j < n; j += rows == 1 ? 4 : 1)
        {
            if (rows == 1) Q32Kernels512.Cols4<TB>(w + j * rowBytes, rowBytes, blocks, false, xq, 0, dst + j);
            else if (rows == 4) Q32Kernels512.Rows<TB, Rows4>(w + j * rowBytes, blocks, false, xq, 0, dst + j, dstRowStride);
            else Q32Kernels512.Rows<TB, Rows8>(w + j * rowBytes, blocks, false, xq, 0, dst + j, dstRowStride);
        }
    }

    private static int[] Ints(string list) => list.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
