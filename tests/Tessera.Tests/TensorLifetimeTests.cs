namespace Tessera.Tests;

/// <summary>Storage lives exactly as long as its last view; scopes dispose what they made, nest, and close innermost
/// first; a host array of the wrong length is refused naming the shape.</summary>
public class TensorLifetimeTests
{
    private static readonly IBackend B = TestBackends.Get("cpu-1t");

    /// <summary>0, 1, 2, ... in row-major order, so every element names its own position.</summary>
    private static Tensor Iota(params int[] shape) =>
        Tensor.FromArray(B, Enumerable.Range(0, (int)new Shape(shape).ElementCount).Select(i => (float)i).ToArray(), shape);

    private static float[] Values(Tensor t) => t.ToArray<float>();

    [Fact]
    public void StorageIsFreedWhenTheLastViewIsDisposed()
    {
        var t = Iota(3, 4);
        var storage = t.Storage;
        var v = t.Narrow(0, 1, 2);
        var w = v.T;
        t.Dispose();
        Assert.True(t.IsDisposed);
        Assert.False(storage.IsFreed);
        Assert.Equal(new float[] { 4, 8, 5, 9, 6, 10, 7, 11 }, Values(w)); // still readable
        v.Dispose();
        Assert.False(storage.IsFreed);
        w.Dispose();
        Assert.True(storage.IsFreed);
        w.Dispose(); // a second dispose is a no-op
        Assert.True(storage.IsFreed);

        // The copy behind a reshape of a non-contiguous view lives exactly as long as the result.
        using var m = Iota(3, 4);
        using var mt = m.T;
        var r = mt.Reshape(12);
        var rs = r.Storage;
        Assert.NotSame(m.Storage, rs);
        Assert.False(rs.IsFreed);
        r.Dispose();
        Assert.True(rs.IsFreed);
        Assert.False(m.Storage.IsFreed);

        // Share and Contiguous of a contiguous tensor are references, not owners of a copy.
        var a = Iota(5);
        var sa = a.Storage;
        var c = a.Contiguous();
        var s = a.Share();
        a.Dispose();
        c.Dispose();
        Assert.False(sa.IsFreed);
        s.Dispose();
        Assert.True(sa.IsFreed);
    }

    [Fact]
    public void ScopeDisposesWhatItMadeExceptKept()
    {
        Tensor made, view, kept;
        using (var scope = TensorScope.Begin())
        {
            made = Tensor.Zeros(B, DType.F32, new Shape(2, 3));
            view = made.T;
            kept = scope.Keep(made.Reshape(-1));
            Assert.Throws<TesseraException>(() => scope.Keep(kept)); // no longer this scope's
        }
        Assert.True(made.IsDisposed);
        Assert.True(view.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.False(kept.Storage.IsFreed); // the kept view holds the storage
        Assert.Equal(new float[6], Values(kept));
        kept.Dispose();
        Assert.True(kept.Storage.IsFreed);
    }

    [Fact]
    public void ScopesNestAndKeepHandsToTheEnclosingScope()
    {
        Tensor inner, promoted, outer;
        using (var s1 = TensorScope.Begin())
        {
            outer = Tensor.Zeros(B, DType.F32, new Shape(2));
            using (var s2 = TensorScope.Begin())
            {
                inner = Tensor.Zeros(B, DType.F32, new Shape(2));
                promoted = s2.Keep(Tensor.Zeros(B, DType.F32, new Shape(3)));
            }
            Assert.True(inner.IsDisposed);
            Assert.False(promoted.IsDisposed);
            Assert.False(outer.IsDisposed);
        }
        Assert.True(promoted.IsDisposed);
        Assert.True(outer.IsDisposed);
        Assert.True(outer.Storage.IsFreed);
    }

    [Fact]
    public void ScopesMustCloseInnermostFirst()
    {
        // On a thread of its own: a misordered close leaves that thread's scope stack behind.
        Exception? caught = null;
        var th = new Thread(() =>
        {
            var s1 = TensorScope.Begin();
            var s2 = TensorScope.Begin();
            try { s1.Dispose(); } catch (Exception e) { caught = e; }
            s2.Dispose();
        });
        th.Start();
        th.Join();
        Assert.IsType<InvalidOperationException>(caught);
    }

    [Fact]
    public void FromArrayOfTheWrongLengthNamesTheShape()
    {
        var e = Assert.Throws<TesseraException>(() => Tensor.FromArray(B, new float[5], 2, 3));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("5", e.Message);
        Assert.Throws<TesseraException>(() => Iota(2).ToArray<int>());
    }
}
