using System.Runtime.CompilerServices;

namespace Tessera.Tests;

// ConfigureAwait(false) in test methods is the point here: the continuation must leave xunit's context and thread.
#pragma warning disable xUnit1030

/// <summary>TensorScope in async code: the scope open before an await tracks what is made after it, even when the
/// continuation runs on another thread, and may be disposed there; an async method's own scope does not leak into its
/// caller; tasks started inside a scope track into it; Tensor.CopyTo(Span) copies any view into caller memory.</summary>
public class TensorScopeAsyncTests
{
    private static readonly IBackend B = TestBackends.Get("cpu-1t");

    private static Tensor Make(int n = 3) => Tensor.Zeros(B, DType.F32, new Shape(n));

    /// <summary>An awaitable whose continuation always runs on a new thread (under the flowed ExecutionContext, as
    /// the async method builder guarantees for every awaiter).</summary>
    private readonly struct ResumeOnNewThread : INotifyCompletion
    {
        public ResumeOnNewThread GetAwaiter() => this;
        public bool IsCompleted => false;
        public void OnCompleted(Action continuation) => new Thread(() => continuation()) { IsBackground = true }.Start();
        public void GetResult() { }
    }

    [Fact]
    public async Task ScopeTracksAcrossAnAwaitThatResumesOnAnotherThread()
    {
        var scope = TensorScope.Begin();
        var before = Make();
        int opened = Environment.CurrentManagedThreadId;
        await new ResumeOnNewThread();
        Assert.NotEqual(opened, Environment.CurrentManagedThreadId);
        var after = Make();
        using (var inner = TensorScope.Begin())
        {
            var temp = Make();
            var promoted = inner.Keep(Make(5)); // handed to the outer scope
            await Task.Delay(5).ConfigureAwait(false);
            Assert.False(temp.IsDisposed);
            after = promoted;
        }
        await new ResumeOnNewThread();
        scope.Dispose(); // on yet another thread
        Assert.True(before.IsDisposed);
        Assert.True(after.IsDisposed);
        Assert.True(after.Storage.IsFreed);
    }

    [Fact]
    public async Task ScopeSurvivesConfigureAwaitFalseAndYield()
    {
        var scope = TensorScope.Begin();
        var a = Make();
        await Task.Yield();
        var b = Make();
        await Task.Delay(10).ConfigureAwait(false);
        var c = Make();
        scope.Dispose();
        Assert.True(a.IsDisposed && b.IsDisposed && c.IsDisposed);
    }

    [Fact]
    public async Task AnAsyncMethodsScopeDoesNotLeakIntoItsCaller()
    {
        using var outer = TensorScope.Begin();
        var pending = InnerAsync(); // opens its own scope and yields before closing it
        var mine = Make();          // made while InnerAsync's scope is still open, but in the caller's flow
        var fromInner = await pending;
        Assert.True(fromInner.IsDisposed);
        Assert.False(mine.IsDisposed);
        outer.Dispose();
        Assert.True(mine.IsDisposed);

        static async Task<Tensor> InnerAsync()
        {
            using var scope = TensorScope.Begin();
            var t = Make();
            await Task.Delay(5).ConfigureAwait(false);
            _ = Make();
            return t;
        }
    }

    [Fact]
    public async Task TasksStartedInAScopeTrackIntoItConcurrently()
    {
        var scope = TensorScope.Begin();
        var made = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            var list = new List<Tensor>();
            for (int i = 0; i < 50; i++) list.Add(Make());
            return list;
        })));
        scope.Dispose();
        Assert.All(made.SelectMany(l => l), t => Assert.True(t.IsDisposed));
    }

    [Fact]
    public void SynchronousScopesBehaveAsBefore()
    {
        Tensor a, kept;
        using (var s1 = TensorScope.Begin())
        {
            using (var s2 = TensorScope.Begin())
            {
                a = Make();
                kept = s2.Keep(Make());
            }
            Assert.True(a.IsDisposed);
            Assert.False(kept.IsDisposed);
        }
        Assert.True(kept.IsDisposed);
        var outside = Make(); // no scope open: the caller owns it
        Assert.False(outside.IsDisposed);
        outside.Dispose();
    }

    [Fact]
    public async Task DisposingAnOuterScopeFirstIsRefusedAfterAnAwaitToo()
    {
        var s1 = TensorScope.Begin();
        var s2 = TensorScope.Begin();
        await Task.Yield();
        Assert.Throws<InvalidOperationException>(() => s1.Dispose());
        s2.Dispose();
        s1.Dispose();
    }

    // ---- CopyTo(Span<T>) ----

    [Fact]
    public void CopyToWritesContiguousAndStridedViewsInRowMajorOrder()
    {
        using var t = Tensor.FromArray(B, Enumerable.Range(0, 21).Select(i => (float)i).ToArray(), 3, 7);
        var all = new float[21];
        t.CopyTo<float>(all);
        Assert.Equal(t.ToArray<float>(), all);
        using var v = t.T;                   // [7, 3], not contiguous
        using var s = v.Slice(0, 1, 7, 2);   // rows 1, 3, 5 of the transpose: [3, 3]
        var got = new float[10];
        got[9] = -1;
        s.CopyTo<float>(got);
        Assert.Equal(new float[] { 1, 8, 15, 3, 10, 17, 5, 12, 19 }, got[..9]);
        Assert.Equal(-1, got[9]); // past ElementCount: untouched
        using var h = t.To(DType.BF16);
        var b = new BFloat16[21];
        h.CopyTo<BFloat16>(b);
        Assert.Equal(20f, (float)b[20]);
        using var i = Tensor.FromArray(B, new long[] { 5, -7, long.MaxValue }, 3);
        Span<long> l = stackalloc long[3];
        i.CopyTo(l);
        Assert.Equal(long.MaxValue, l[2]);
    }

    [Fact]
    public void CopyToRefusesAWrongTypeOrAShortSpan()
    {
        using var t = Tensor.Zeros(B, DType.F32, new Shape(2, 3));
        var e = Assert.Throws<TesseraException>(() => t.CopyTo<Half>(new Half[6]));
        Assert.Contains("f32", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        e = Assert.Throws<TesseraException>(() => t.CopyTo<float>(new float[5]));
        Assert.Contains("6", e.Message);
        Assert.Contains("5", e.Message);
        e = Assert.Throws<TesseraException>(() => t.CopyTo<double>(new double[6]));
        Assert.Contains("Double", e.Message);
    }
}
