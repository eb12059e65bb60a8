namespace Tessera.Cpu;

/// <summary>Splits work over a fixed number of threads. Small jobs run inline: a thread hand-off costs a few
/// microseconds, more than many element-wise ops take.</summary>
internal static class CpuParallel
{
    /// <summary>Calls body(start, end) over [0, count) in up to <paramref name="threads"/> contiguous chunks,
    /// using one chunk when the whole job is under <paramref name="minPerThread"/> items a thread.</summary>
    public static void For(long count, int threads, long minPerThread, Action<long, long> body)
    {
        if (count <= 0) return;
        int chunks = (int)Math.Clamp(count / Math.Max(minPerThread, 1), 1, Math.Max(threads, 1));
        if (chunks == 1) { body(0, count); return; }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, c =>
        {
            long s = count * c / chunks, e = count * (c + 1) / chunks;
            body(s, e);
        });
    }
}
