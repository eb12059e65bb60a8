namespace Tessera.Tests.Reference;

/// <summary>Checks the model-layer references (NaiveOps.Model.cs) on their own: known answers written out by hand
/// and identities with the older references, so that the op-table rows built on them mean something.</summary>
public class ModelReferenceSelfTests
{
    private static Nd Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var nd = Nd.Zeros(shape);
        for (int i = 0; i < nd.Length; i++) nd.Data[i] = rng.NextDouble() * 2 - 1;
        return nd;
    }

    private static void Close(Nd expected, Nd actual, double tol)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= tol * (1 + Math.Abs(expected.Data[i])),
                $"at {i}: expected {expected.Data[i]:R}, got {actual.Data[i]:R}");
    }

    [Fact]
    public void TopKOrdersNaNFirstWhenLargestAndBreaksTiesByIndex()
    {
        var x = new Nd([5], [3, 1, 3, double.NaN, 2]);
        var (v, i) = NaiveOps.TopK(x, 5, largest: true);
        Assert.Equal([3.0, 0, 2, 4, 1], i.Data);
        Assert.True(double.IsNaN(v.Data[0]));
        Assert.Equal([3.0, 3, 2, 1], v.Data[1..]);
        (v, i) = NaiveOps.TopK(x, 2, largest: false);
        Assert.Equal([1.0, 4], i.Data);
        Assert.Equal([1.0, 2], v.Data);
    }

    [Fact]
    public void IndexSelectKnownAnswer()
    {
        var x = new Nd([2, 3], [0, 1, 2, 10, 11, 12]);
        Assert.Equal([2.0, 2, 0, 12, 12, 10], NaiveOps.IndexSelect(x, 1, new Nd([3], [2, 2, 0])).Data);
        Assert.Equal([10.0, 11, 12], NaiveOps.IndexSelect(x, 0, new Nd([1], [1])).Data);
    }

    [Fact]
    public void GroupNormWithOneChannelPerGroupIsLayerNormOverEachChannel()
    {
        var x = Random(1, 2, 3, 5);
        var w = Random(2, 3);
        var b = Random(3, 3);
        var gn = NaiveOps.GroupNorm(x, 3, w, b, 1e-5);
        var ln = NaiveOps.LayerNorm(new Nd([6, 5], x.Data), null, null, 1e-5);
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / 5 % 3;
            Assert.Equal(ln.Data[i] * w.Data[c] + b.Data[c], gn.Data[i], 12);
        }
        // One group over everything: mean 0 and variance 1 per batch entry without affine.
        var all = NaiveOps.GroupNorm(x, 1, null, null, 0);
        for (int bi = 0; bi < 2; bi++)
        {
            var part = all.Data.Skip(bi * 15).Take(15).ToArray();
            Assert.Equal(0, part.Average(), 12);
            Assert.Equal(1, part.Select(v => v * v).Average(), 10);
        }
    }

    [Fact]
    public void RopeAtConsecutivePositionsIsTheTableRope()
    {
        foreach (var mode in Enum.GetValues<RopeMode>())
        {
            var x = Random(4, 2, 7, 12);
            var (c, s) = RopeTables.Build1D(7, 8, start: 3);
            var table = NaiveOps.Rope(x, new Nd([7, 4], c.Select(v => (double)v).ToArray()), new Nd([7, 4], s.Select(v => (double)v).ToArray()), mode);
            var at = NaiveOps.RopeAt(x, new Nd([7], Enumerable.Range(3, 7).Select(p => (double)p).ToArray()), 8, 10000, mode);
            Close(table, at, 1e-6); // the tables are f32
            // Per-sequence positions that are equal for both sequences give the same answer.
            var both = NaiveOps.RopeAt(x, new Nd([2, 7], Enumerable.Range(0, 14).Select(p => (double)(p % 7 + 3)).ToArray()), 8, 10000, mode);
            Close(at, both, 0);
        }
    }

    [Fact]
    public void Rope2DAtAGridIsTheGridTableRope()
    {
        var x = Random(5, 3, 6, 16);
        var (c, s) = RopeTables.Build2D(2, 3, 16);
        var table = NaiveOps.Rope(x, new Nd([6, 8], c.Select(v => (double)v).ToArray()), new Nd([6, 8], s.Select(v => (double)v).ToArray()), RopeMode.RotateHalf);
        var at = NaiveOps.Rope2DAt(x, [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], 16, 10000, RopeMode.RotateHalf);
        Close(table, at, 1e-6);
    }

    [Fact]
    public void GatedLinearIsTheMatMulTimesTheMultiplier()
    {
        var x = Random(6, 3, 5);
        var w = Random(7, 4, 5);
        var m = Random(8, 3, 4);
        var wt = Nd.Zeros(5, 4);
        for (int i = 0; i < 4; i++) for (int j = 0; j < 5; j++) wt.Data[j * 4 + i] = w.Data[i * 5 + j];
        var plain = NaiveOps.MatMul(x, wt, null, Activation.Silu);
        var gated = NaiveOps.GatedLinear(x, w, null, Activation.Silu, m, null);
        for (int i = 0; i < plain.Length; i++) Assert.Equal(plain.Data[i] * m.Data[i], gated.Data[i], 12);
    }
}
