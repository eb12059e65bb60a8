using System.Globalization;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>`peer vae-decode --conv-ab 1 [--sizes 256,512] [--threads 1,2] [--rounds N]`: every distinct 3x3 conv of SD's
/// AutoencoderKL decoder (C_in, C_out, H, W at that output size; constant weights, as the model loads them) through the
/// backend's Conv2d (the route it picks: Winograd F(2x2, 3x3) for these) against the im2col + GEMM route alone
/// (CpuBackend.Conv2dViaIm2Col), interleaved in one process. One JSON line per shape: ms medians (wall, and at one thread
/// this thread's CPU time, which load from other processes does not inflate), GFLOP/s counted as 2·9·C_in·C_out·H·W
/// whatever the route, the number of such convs in the decoder and the largest difference between the two outputs.</summary>
internal static class PeerVaeConvs
{
    public static int Run(int[] sizes, int[] threadCounts, int rounds)
    {
        var ci = CultureInfo.InvariantCulture;
        foreach (int size in sizes)
            foreach (int threads in threadCounts)
            {
                using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
                foreach (var (c, o, h, count) in Shapes(size))
                {
                    var rng = new Random(c + o + h);
                    float[] Draw(int n, float scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))];
                    using var x = Tensor.FromArray(cpu, Draw(c * h * h, 1), 1, c, h, h);
                    using var plainW = Tensor.FromArray(cpu, Draw(o * c * 9, 1 / MathF.Sqrt(9 * c)), o, c, 3, 3);
                    using var w = plainW.AsConstant();
                    using var b = Tensor.FromArray(cpu, Draw(o, 0.1f), o);
                    using var d1 = Tensor.Zeros(cpu, DType.F32, new Shape(1, o, h, h));
                    using var d2 = Tensor.Zeros(cpu, DType.F32, new Shape(1, o, h, h));
                    var p = Conv2dParams.Square(1, 1);
                    List<double> cpuRoute = [], cpuIm2Col = [];
                    var engines = new (string Name, Action Run, List<double> Ms)[]
                    {
                        ("route", () => Timed(cpuRoute, () => cpu.Conv2d(x, w, b, p, d1)), []),
                        ("im2col", () => Timed(cpuIm2Col, () => cpu.Conv2dViaIm2Col(x, w, b, p, d2)), []),
                    };
                    var med = PeerPpOcrRec.Interleave(engines, rounds);
                    float[] a1 = d1.ToFloatArray(), a2 = d2.ToFloatArray();
                    double diff = 0, top = 0;
                    for (int i = 0; i < a1.Length; i++) { diff = Math.Max(diff, Math.Abs(a1[i] - a2[i])); top = Math.Max(top, Math.Abs(a2[i])); }
                    double gflop = 2.0 * 9 * c * o * h * h / 1e9;
                    string cpuKeys = threads == 1 && ThreadCpuClock.Available
                        ? string.Create(ci, $",\"route_cpu_ms\":{Median(cpuRoute):F2},\"im2col_cpu_ms\":{Median(cpuIm2Col):F2},\"route_cpu_gflops\":{gflop / Median(cpuRoute) * 1e3:F1},\"im2col_cpu_gflops\":{gflop / Median(cpuIm2Col) * 1e3:F1}")
                        : "";
                    Console.WriteLine(string.Create(ci,
                        $"{{\"op\":\"vae-conv\",\"size\":{size},\"threads\":{threads},\"c_in\":{c},\"c_out\":{o},\"h\":{h},\"w\":{h},\"in_decoder\":{count},\"route_ms\":{med["route"]:F2},\"im2col_ms\":{med["im2col"]:F2},\"route_gflops\":{gflop / med["route"] * 1e3:F1},\"im2col_gflops\":{gflop / med["im2col"] * 1e3:F1},\"im2col_over_route\":{med["im2col"] / med["route"]:F3}{cpuKeys},\"max_abs_diff\":{diff:E1},\"max_abs_output\":{top:F2}}}"));
                }
            }
        return 0;
    }

    /// <summary>The decoder's 3x3 convs at an output size: (C_in, C_out, side, how many), from PeerVaeNetwork's widths
    /// (mid block and up block 0 at the latent size; each up block's upsampler conv at the next size).</summary>
    private static IEnumerable<(int C, int O, int H, int Count)> Shapes(int size)
    {
        int l = size / 8;
        return [(512, 512, l, 10), (512, 512, 2 * l, 7), (512, 512, 4 * l, 1), (512, 256, 4 * l, 1), (256, 256, 4 * l, 5),
                (256, 256, 8 * l, 1), (256, 128, 8 * l, 1), (128, 128, 8 * l, 5)];
    }

    private static void Timed(List<double> cpuMs, Action run)
    {
        double c0 = ThreadCpuClock.NowMsOrNaN();
        run();
        cpuMs.Add(ThreadCpuClock.NowMsOrNaN() - c0);
    }

    private static double Median(List<double> ms)
    {
        var s = ms.OrderBy(v => v).ToList();
        return s[s.Count / 2];
    }
}
