using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>The CPU worker pool behind every parallel op: each index once, exceptions reach the caller, nested and
/// concurrent calls finish (inline when the pool is taken), and the pool still works after backends come and go.</summary>
public class CpuParallelTests
{
    [Theory]
    [InlineData(1, 2, 1)]
    [InlineData(7, 2, 1)]
    [InlineData(1000, 2, 1)]
    [InlineData(1000, 3, 10)]
    [InlineData(1001, 8, 1)]
    [InlineData(5, 16, 1)]
    [InlineData(100, 4, 1000)]
    public void ForCoversEveryIndexOnce(long count, int threads, long minPerThread)
    {
        var hits = new int[count];
        CpuParallel.For(count, threads, minPerThread, (s, e) =>
        {
            Assert.True(s < e, $"empty chunk [{s}, {e})");
            for (long i = s; i < e; i++) Interlocked.Increment(ref hits[i]);
        });
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(37, 2)]
    [InlineData(37, 5)]
    public void RunCoversEveryPartOnce(int parts, int threads)
    {
        var hits = new int[parts];
        var ids = new HashSet<int>();
        CpuParallel.Run(parts, threads, p =>
        {
            Interlocked.Increment(ref hits[p]);
            lock (ids) ids.Add(Environment.CurrentManagedThreadId);
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.InRange(ids.Count, 1, Math.Min(parts, threads));
    }

    [Fact]
    public void AnExceptionReachesTheCallerAndThePoolKeepsWorking()
    {
        var ex = Assert.Throws<TesseraException>(() => CpuParallel.Run(16, 2, p =>
        {
            if (p == 5) throw new TesseraException("part 5 failed");
        }));
        Assert.Equal("part 5 failed", ex.Message);
        long sum = 0;
        CpuParallel.For(1000, 2, 1, (s, e) => { for (long i = s; i < e; i++) Interlocked.Add(ref sum, i); });
        Assert.Equal(999L * 1000 / 2, sum);
    }

    [Fact]
    public void NestedCallsRunInline()
    {
        long total = 0;
        CpuParallel.Run(4, 2, _ =>
            CpuParallel.For(100, 2, 1, (s, e) => Interlocked.Add(ref total, e - s)));
        Assert.Equal(400, total);
    }

    [Fact]
    public async Task ConcurrentCallersWithSeveralBackendsAllFinish()
    {
        // Four threads, each with its own backend, run parallel matmuls at once: whoever does not get the pool runs
        // inline; every result must match the single-threaded one.
        var a = Enumerable.Range(0, 96 * 80).Select(i => (float)Math.Sin(i)).ToArray();
        var b = Enumerable.Range(0, 80 * 72).Select(i => (float)Math.Cos(i)).ToArray();
        float[] want;
        using (var one = new CpuBackend(new CpuBackendOptions(Threads: 1)))
        using (var ta = Tensor.FromArray(one, a, 96, 80))
        using (var tb = Tensor.FromArray(one, b, 80, 72))
        using (var y = ta.MatMul(tb))
            want = y.ToFloatArray();
        var tasks = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var ta = Tensor.FromArray(cpu, a, 96, 80);
            using var tb = Tensor.FromArray(cpu, b, 80, 72);
            for (int r = 0; r < 20; r++)
            {
                using var y = ta.MatMul(tb);
                Assert.Equal(want, y.ToFloatArray());
            }
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void ThePoolComesBackAfterItsUsersLeave()
    {
        for (int round = 0; round < 3; round++)
        {
            var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            long sum = 0;
            CpuParallel.For(64, cpu.Threads, 1, (s, e) => Interlocked.Add(ref sum, e - s));
            Assert.Equal(64, sum);
            cpu.Dispose();
            cpu.Dispose(); // twice is harmless
        }
        long after = 0;
        CpuParallel.For(64, 2, 1, (s, e) => Interlocked.Add(ref after, e - s));
        Assert.Equal(64, after);
    }
}
