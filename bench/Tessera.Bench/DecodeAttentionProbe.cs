using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Tessera.Cpu.Attention;

namespace Tessera.Bench;

/// <summary>`peer decode-attention [--threads 1] [--rounds 31] [--d 64] [--skv 160,1000] [--rows 1,2,4,8,12,16,24,32,64]
/// [--units 12] [--cold 0]`: the two CPU attention paths on the same units (one kv head each, `rows` query rows a unit as
/// Group x Sq with Group up to 8), interleaved round by round in one process: the tiled kernel, which packs each unit's
/// K and V into panels first (FlashAttention.RunTiled), and the decode path, which reads them in place
/// (DecodeAttention). The crossover sets DecodeAttention.MaxRows. One JSON line per (skv, rows): median microseconds of
/// each call (10 calls a sample) and tiled / decode (&gt; 1: the decode path is faster), and the same from the fastest
/// sample (under load the minimum is the steadier estimate). Row counts above MaxRows are
/// not run on the decode path (its scratch is sized for MaxRows; they print null): raise the limit in a local build to
/// probe past it. `--cold 1` reads 64 MB between calls and times each call alone in thread CPU time, as a decoder's
/// attention runs: its K and V were pushed out of the caches by the weights streamed since the layer's last step. The machine is shared: trust the ratios of one run, not the absolute times.</summary>
public static unsafe class DecodeAttentionProbe
{
    private sealed class Rows(float* k, float* v, int skv, int d) : KvRows
    {
        public override long KStrideD => 1;
        public override long VStrideD => 1;
        public override float* K(in AttnUnit u, int j) => k + ((long)u.KvHead * skv + j) * d;
        public override float* V(in AttnUnit u, int j) => v + ((long)u.KvHead * skv + j) * d;
    }

    public static int Run(Args args)
    {
        int threads = args.Int("threads", 1), rounds = args.Int("rounds", 31), d = args.Int("d", 64), unitsN = args.Int("units", 12);
        bool cold = args.Int("cold", 0) != 0;
        using var flush = cold ? new CacheFlush(64 << 20) : null;
        int[] skvs = args.Str("skv", "160,1000").Split(',').Select(int.Parse).ToArray();
        int[] rowCounts = args.Str("rows", "1,2,4,8,12,16,24,32,64").Split(',').Select(int.Parse).ToArray();
        var rng = new Random(7);
        foreach (int skv in skvs)
            foreach (int rows in rowCounts)
            {
                int group = rows % 8 == 0 ? 8 : rows % 4 == 0 ? 4 : rows % 2 == 0 ? 2 : 1, sq = rows / group;
                long qn = (long)unitsN * rows * d, kn = (long)unitsN * skv * d;
                float* q = Fill(qn, rng), k = Fill(kn, rng), v = Fill(kn, rng), o = Fill(qn, rng);
                try
                {
                    // q and o as [1, units x group, sq, d]; K and V as [units][skv][d].
                    var plan = new FlashPlan
                    {
                        D = d, Group = group, Scale2 = 1.4426950408889634f / MathF.Sqrt(d), Causal = true, WindowLeft = -1, WindowRight = -1,
                        Q = new View4(q, qn, (long)sq * d, d, 1), O = new View4(o, qn, (long)sq * d, d, 1),
                    };
                    var kv = new Rows(k, v, skv, d);
                    var units = Enumerable.Range(0, unitsN).Select(g => new AttnUnit(0, g, skv, sq, skv - sq)).ToArray();
                    bool decodeTakes = DecodeAttention.Takes(plan, units[0]);
                    var tiled = new List<double>();
                    var decode = new List<double>();
                    for (int w = 0; w < 5; w++) { FlashAttention.RunTiled(plan, kv, units, threads); if (decodeTakes) DecodeAttention.Run(plan, kv, units, threads); }
                    for (int r = 0; r < rounds; r++)
                    {
                        tiled.Add(Time(() => FlashAttention.RunTiled(plan, kv, units, threads), flush));
                        if (decodeTakes) decode.Add(Time(() => DecodeAttention.Run(plan, kv, units, threads), flush));
                    }
                    string F(double x, string f) => decodeTakes ? x.ToString(f, CultureInfo.InvariantCulture) : "null";
                    double t = Median(tiled), tMin = tiled.Min(), dd = decodeTakes ? Median(decode) : double.NaN, dMin = decodeTakes ? decode.Min() : double.NaN;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"bench\":\"decode-attention\",\"threads\":{threads},\"units\":{unitsN},\"group\":{group},\"sq\":{sq},\"rows\":{rows},\"skv\":{skv},\"d\":{d}," +
                        $"\"tiled_us\":{t:F1},\"decode_us\":{F(dd, "F1")},\"ratio\":{F(t / dd, "F2")},\"tiled_min_us\":{tMin:F1},\"decode_min_us\":{F(dMin, "F1")},\"ratio_min\":{F(tMin / dMin, "F2")}}}"));
                }
                finally { NativeMemory.Free(q); NativeMemory.Free(k); NativeMemory.Free(v); NativeMemory.Free(o); }
            }
        return 0;
    }

    private static float* Fill(long n, Random rng)
    {
        var p = (float*)NativeMemory.Alloc((nuint)(n * sizeof(float)));
        for (long i = 0; i < n; i++) p[i] = (float)(rng.NextDouble() * 2 - 1);
        return p;
    }

    private static double Time(Action a, CacheFlush? flush)
    {
        if (flush is not null)
        {
            double sum = 0;
            for (int i = 0; i < 10; i++)
            {
                flush.Run();
                double c0 = ThreadCpuClock.NowMs();
                a();
                sum += ThreadCpuClock.NowMs() - c0;
            }
            return sum * 1e3 / 10;
        }
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < 10; i++) a();
        return Stopwatch.GetElapsedTime(t0).TotalMicroseconds / 10;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s[s.Length / 2];
    }
}

/// <summary>A buffer larger than the last-level cache, read through to evict whatever the caches held.</summary>
internal sealed unsafe class CacheFlush(long bytes) : IDisposable
{
    private readonly long* _p = (long*)NativeMemory.AllocZeroed((nuint)bytes);
    private readonly long _n = bytes / sizeof(long);

    /// <summary>Reads one word per cache line of the whole buffer (reads only: written lines would be written back
    /// during the timed call, which a decoder's streamed weights never are).</summary>
    public long Run()
    {
        long sum = 0;
        for (long i = 0; i < _n; i += 8) sum += _p[i];
        Sink = sum;
        return sum;
    }

    /// <summary>Keeps the reads from being optimised away.</summary>
    public static long Sink;

    public void Dispose() => NativeMemory.Free(_p);
}
