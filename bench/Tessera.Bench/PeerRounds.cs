using System.Diagnostics;

namespace Tessera.Bench;

/// <summary>The timing loop the kernel peers share: warm each engine up, size the repetitions so that one engine's
/// turn lasts about <c>targetMs</c>, then run interleaved rounds. At each switch of engine there is a pause and one
/// untimed run: ONNX Runtime's intra-op threads spin for a while after a Run, and on a 2-core machine the engine timed
/// right after it lost a core to that spin (measured: Tessera's 2-thread 197x768x3072 at 83-103 GFLOP/s when timed
/// after ORT, 164-184 when not).</summary>
internal static class PeerRounds
{
    /// <summary>Runs the engines and appends each timed run's milliseconds to its list; returns the repetitions
    /// used (<paramref name="reps"/> when positive, else sized from the slowest engine).</summary>
    public static int Run(IReadOnlyList<(Action Run, List<double> Ms)> engines, int rounds, int reps, int settleMs,
        double targetMs, int maxReps, int warmRuns = 3)
    {
        var sw = new Stopwatch();
        double slowest = 0;
        foreach (var (run, _) in engines)
        {
            for (int i = 0; i < warmRuns; i++) run();
            sw.Restart();
            int w = 0;
            while (sw.Elapsed.TotalMilliseconds < 200 || w < 3) { run(); w++; }
            slowest = Math.Max(slowest, sw.Elapsed.TotalMilliseconds / w);
        }
        if (reps <= 0) reps = Math.Clamp((int)(targetMs / slowest), 1, maxReps);
        for (int r = 0; r < rounds; r++)
            foreach (var (run, ms) in engines)
            {
                Thread.Sleep(settleMs);
                run();
                for (int i = 0; i < reps; i++)
                {
                    sw.Restart();
                    run();
                    ms.Add(sw.Elapsed.TotalMilliseconds);
                }
            }
        return reps;
    }
}
