using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Tessera.Cpu;
using Tessera.Cpu.Gemm;

namespace Tessera.Bench;

/// <summary>`peer gemm --probe 1 [--m M --k K --n N]`: the pieces of Tessera's f32 GEMM alone, on one thread, beside the
/// machine's FMA peak (<see cref="FmaProbe"/>): the 12 x 32 micro-kernel and the 4 x 32 edge kernel on cache-resident
/// panels at kc 256/512/768 (GFLOP/s and fraction of peak), and the packing of A (m x k) and of B (k x n, row-major and
/// as a transposed [n, k] weight) in ms and as a share of the GEMM's FMA time at peak. One JSON line each.</summary>
internal static unsafe class GemmKernelProbe
{
    public static int Run(Args args)
    {
        var ci = CultureInfo.InvariantCulture;
        int m = args.Int("m", 197), k = args.Int("k", 768), n = args.Int("n", 3072);
        if (MicroKernel.MR != 12 || MicroKernel.NR != 32)
        {
            Console.WriteLine($"{{\"probe\":\"kernel\",\"skipped\":\"no AVX-512 kernel on this machine (MR {MicroKernel.MR}, NR {MicroKernel.NR})\"}}");
            return 0;
        }
        const int maxKc = 768;
        int[] kcs = [256, 512, 768];
        float* a = Alloc(12 * maxKc), b = Alloc(maxKc * 32), c = Alloc(12 * 32);
        for (int i = 0; i < 12 * maxKc; i++) a[i] = (i % 7) * 0.01f;
        for (int i = 0; i < maxKc * 32; i++) b[i] = (i % 5) * 0.01f;
        // The peak and the kernels measured in turn, in short windows, keeping each one's best: on a shared machine the
        // best window is the closest to an unloaded core, and interleaving gives every probe the same chances.
        double peak = 0;
        var big = new double[kcs.Length];
        var edge = new double[kcs.Length];
        int rounds = args.Int("rounds", 15);
        for (int r = 0; r < rounds; r++)
        {
            peak = Math.Max(peak, Peak(r == 0));
            for (int i = 0; i < kcs.Length; i++)
            {
                int kc = kcs[i];
                big[i] = Math.Max(big[i], Rate(() => MicroKernel.Kernel12x32(kc, a, b, c, 32, false), 2.0 * 12 * 32 * kc, r == 0));
                edge[i] = Math.Max(edge[i], Rate(() => MicroKernel.Kernel4x32(kc, a, 12, b, c, 32, false), 2.0 * 4 * 32 * kc, r == 0));
            }
        }
        Console.WriteLine(string.Create(ci, $"{{\"probe\":\"fma_peak\",\"threads\":1,\"gflops\":{peak:F1}}}"));
        for (int i = 0; i < kcs.Length; i++)
            Console.WriteLine(string.Create(ci,
                $"{{\"probe\":\"kernel\",\"kc\":{kcs[i]},\"gflops_12x32\":{big[i]:F1},\"peak_fraction_12x32\":{big[i] / peak:F3},\"gflops_4x32\":{edge[i]:F1},\"peak_fraction_4x32\":{edge[i] / peak:F3}}}"));
        NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c);

        // Packing, whole operands at the GEMM's KC blocking, as one call would pack them.
        float* src = Alloc((long)Math.Max(m, n) * k), dst = Alloc((long)(Math.Max(m, n) + 32) * k), scratch = Alloc(Math.Max(k, n) + 64);
        for (long i = 0; i < (long)Math.Max(m, n) * k; i++) src[i] = i % 11;
        var aOp = new GemmOperand(src, DType.F32, k, 1);
        var bRowMajor = new GemmOperand(src, DType.F32, n, 1);
        var bWeight = new GemmOperand(src, DType.F32, 1, k);
        double gemmMsAtPeak = 2.0 * m * n * k / (peak * 1e6);
        foreach (var (what, pack) in new (string, Action)[]
        {
            ("A", () => { for (int pc = 0; pc < k; pc += Sgemm.KC) GemmPack.PackA(aOp, 0, m, pc, Math.Min(Sgemm.KC, k - pc), 12, dst, scratch); }),
            ("B_kn", () => { for (int pc = 0; pc < k; pc += Sgemm.KC) GemmPack.PackB(bRowMajor, pc, Math.Min(Sgemm.KC, k - pc), 0, n, 32, dst, scratch); }),
            ("B_weight_nk", () => { for (int pc = 0; pc < k; pc += Sgemm.KC) GemmPack.PackB(bWeight, pc, Math.Min(Sgemm.KC, k - pc), 0, n, 32, dst, scratch); }),
        })
        {
            double ms = Fastest(pack);
            Console.WriteLine(string.Create(ci,
                $"{{\"probe\":\"pack\",\"operand\":\"{what}\",\"m\":{m},\"k\":{k},\"n\":{n},\"ms\":{ms:F3},\"share_of_gemm_at_peak\":{ms / gemmMsAtPeak:F3}}}"));
        }
        NativeMemory.AlignedFree(src); NativeMemory.AlignedFree(dst); NativeMemory.AlignedFree(scratch);
        return 0;
    }

    private static float* Alloc(long floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);

    // GFLOP/s of `run` (flops each call) in this thread's CPU time where it can be read, so that the slices other
    // processes take are not counted: the best of 3 windows of ~20 ms, after a 200 ms warm-up (tier-1 JIT) when asked.
    private static double Rate(Action run, double flops, bool warmUp)
    {
        var sw = Stopwatch.StartNew();
        while (warmUp && sw.ElapsedMilliseconds < 200) run();
        double best = 0;
        for (int t = 0; t < 3; t++)
        {
            int calls = 0;
            sw.Restart();
            double c0 = ThreadCpuClock.Available ? ThreadCpuClock.NowMs() : 0;
            while (sw.ElapsedMilliseconds < 20) { run(); calls++; }
            double ms = ThreadCpuClock.Available ? ThreadCpuClock.NowMs() - c0 : sw.Elapsed.TotalMilliseconds;
            best = Math.Max(best, calls * flops / (ms * 1e6));
        }
        return best;
    }

    // The FMA peak of one thread, timed as the kernels are (FmaProbe's own loop, in this thread's CPU time).
    private static double Peak(bool warmUp) => Rate(() => FmaProbe.Run512Once(), FmaProbe.FlopsPerRun512, warmUp);

    // The fastest of 15 calls after a 200 ms warm-up, in ms (the least disturbed by other work on a shared machine).
    private static double Fastest(Action run)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 200) run();
        var ms = new double[15];
        for (int t = 0; t < ms.Length; t++)
        {
            double c0 = ThreadCpuClock.Available ? ThreadCpuClock.NowMs() : 0;
            sw.Restart();
            run();
            ms[t] = ThreadCpuClock.Available ? ThreadCpuClock.NowMs() - c0 : sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms[0];
    }
}
