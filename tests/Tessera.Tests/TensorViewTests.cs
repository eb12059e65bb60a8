namespace Tessera.Tests;

/// <summary>Views share storage and only change shape, strides and offset; writes through a view reach the base;
/// copies happen only when needed. Lifetimes are in <see cref="TensorLifetimeTests"/>, conversions in
/// <see cref="DTypeConversionTests"/>.</summary>
public class TensorViewTests
{
    private static readonly IBackend B = TestBackends.Get("cpu-1t");

    /// <summary>0, 1, 2, ... in row-major order, so every element names its own position.</summary>
    private static Tensor Iota(params int[] shape) =>
        Tensor.FromArray(B, Enumerable.Range(0, (int)new Shape(shape).ElementCount).Select(i => (float)i).ToArray(), shape);

    private static float[] Values(Tensor t) => t.ToArray<float>();

    /// <summary>The values a view must hold, computed from its strides and offset over the base's iota data.</summary>
    private static float[] ByStrides(Tensor v) => OpRunner.ReadView(
        Enumerable.Range(0, (int)v.Storage.ByteLength / 4).Select(i => (double)i).ToArray(), v).Data.Select(d => (float)d).ToArray();

    [Fact]
    public void ReshapeWithMinusOneIsAView()
    {
        using var t = Iota(2, 3, 4);
        using var r = t.Reshape(-1, 4);
        Assert.Equal([6, 4], r.Shape.Dims.ToArray());
        Assert.Same(t.Storage, r.Storage);
        Assert.Equal([4L, 1], r.Strides.ToArray());
        using var r2 = t.Reshape(2, -1);
        Assert.Equal([2, 12], r2.Shape.Dims.ToArray());
        Assert.Equal(Values(t), Values(r2));
        Assert.Throws<TesseraException>(() => t.Reshape(-1, -1));
        Assert.Throws<TesseraException>(() => t.Reshape(-1, 5));
        Assert.Throws<TesseraException>(() => t.Reshape(5, 5));
    }

    [Fact]
    public void PermuteAndTransposeOnlyReorderStrides()
    {
        using var t = Iota(2, 3, 4);
        Assert.Equal([12L, 4, 1], t.Strides.ToArray());
        using var p = t.Permute(2, 0, 1);
        Assert.Equal([4, 2, 3], p.Shape.Dims.ToArray());
        Assert.Equal([1L, 12, 4], p.Strides.ToArray());
        Assert.Same(t.Storage, p.Storage);
        Assert.False(p.IsContiguous);
        // p[k, i, j] = t[i, j, k] = 12 i + 4 j + k
        var expected = new float[24];
        for (int k = 0; k < 4; k++) for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) expected[(k * 2 + i) * 3 + j] = 12 * i + 4 * j + k;
        Assert.Equal(expected, Values(p));
        Assert.Equal(expected, ByStrides(p));
        using var m = Iota(3, 5);
        using var mt = m.T;
        Assert.Equal([5, 3], mt.Shape.Dims.ToArray());
        Assert.Equal([1L, 5], mt.Strides.ToArray());
        using var tr = t.Transpose(0, -1);
        Assert.Equal([4, 3, 2], tr.Shape.Dims.ToArray());
        Assert.Equal([1L, 4, 12], tr.Strides.ToArray());
        Assert.Throws<TesseraException>(() => t.Permute(0, 0, 1));
        Assert.Throws<TesseraException>(() => t.Permute(0, 1));
    }

    [Fact]
    public void NarrowSelectSplitAndChunkMoveTheOffset()
    {
        using var t = Iota(2, 3, 4);
        using var n = t.Narrow(1, 1, 2);
        Assert.Equal([2, 2, 4], n.Shape.Dims.ToArray());
        Assert.Equal(4, n.Offset);
        Assert.Equal(t.Strides.ToArray(), n.Strides.ToArray());
        Assert.Equal(new float[] { 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23 }, Values(n));
        Assert.Throws<TesseraException>(() => t.Narrow(1, 2, 2));

        using var s = t.Select(1, 2);
        Assert.Equal([2, 4], s.Shape.Dims.ToArray());
        Assert.Equal(8, s.Offset);
        Assert.Equal(new float[] { 8, 9, 10, 11, 20, 21, 22, 23 }, Values(s));
        using var last = t.Select(-1, 3);
        Assert.Equal(new float[] { 3, 7, 11, 15, 19, 23 }, Values(last));

        using var m = Iota(2, 7);
        var parts = m.Split(1, 2, 5);
        Assert.Equal([2, 2], parts[0].Shape.Dims.ToArray());
        Assert.Equal([2, 5], parts[1].Shape.Dims.ToArray());
        Assert.Equal(2, parts[1].Offset);
        Assert.All(parts, p => Assert.Same(m.Storage, p.Storage));
        Assert.Equal(new float[] { 2, 3, 4, 5, 6, 9, 10, 11, 12, 13 }, Values(parts[1]));
        foreach (var p in parts) p.Dispose();
        Assert.Throws<TesseraException>(() => m.Split(1, 2, 4));

        using var c = Iota(6, 2);
        var chunks = c.Chunk(3, 0);
        Assert.Equal(3, chunks.Length);
        Assert.Equal(new float[] { 8, 9, 10, 11 }, Values(chunks[2]));
        foreach (var p in chunks) p.Dispose();
        Assert.Throws<TesseraException>(() => c.Chunk(4, 0));
    }

    [Fact]
    public void SliceWithStepAndNegativeBounds()
    {
        using var t = Iota(10);
        using var a = t.Slice(0, -7, -1, 2); // 3:9:2
        Assert.Equal(new float[] { 3, 5, 7 }, Values(a));
        Assert.Equal(3, a.Offset);
        Assert.Equal([2L], a.Strides.ToArray());
        using var b = t.Slice(0, 1, 100); // end clamps
        Assert.Equal(9, b.Dim(0));
        using var c = t.Slice(0, -100, 2); // start clamps
        Assert.Equal(new float[] { 0, 1 }, Values(c));
        using var e = t.Slice(0, 5, 2); // end before start: empty
        Assert.Equal(0, e.Dim(0));
        using var s3 = t.Slice(0, 0, 10, 3);
        Assert.Equal(new float[] { 0, 3, 6, 9 }, Values(s3));
        Assert.Throws<TesseraException>(() => t.Slice(0, 0, 10, 0));

        using var m = Iota(5, 6);
        using var ms = m.Slice(0, 1, -1).Slice(1, 1, 6, 2); // rows 1..3, columns 1, 3, 5
        Assert.Equal(new float[] { 7, 9, 11, 13, 15, 17, 19, 21, 23 }, Values(ms));
        Assert.Equal(new float[] { 7, 9, 11, 13, 15, 17, 19, 21, 23 }, ByStrides(ms));
    }

    [Fact]
    public void UnsqueezeSqueezeBroadcastFlatten()
    {
        using var t = Iota(2, 3);
        using var u0 = t.Unsqueeze(0);
        Assert.Equal([1, 2, 3], u0.Shape.Dims.ToArray());
        using var u2 = t.Unsqueeze(-1);
        Assert.Equal([2, 3, 1], u2.Shape.Dims.ToArray());
        Assert.True(u2.IsContiguous);
        using var sq = u2.Squeeze(-1);
        Assert.Equal([2, 3], sq.Shape.Dims.ToArray());
        Assert.All(new[] { u0, u2, sq }, v => Assert.Same(t.Storage, v.Storage));
        Assert.Throws<TesseraException>(() => t.Squeeze(0));
        Assert.Throws<TesseraException>(() => t.Unsqueeze(4));

        using var row = Iota(1, 3);
        using var b = row.BroadcastTo(new Shape(4, 3));
        Assert.Equal([0L, 1], b.Strides.ToArray());
        Assert.Equal(new float[] { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2 }, Values(b));
        using var v = Iota(3);
        using var b2 = v.BroadcastTo(new Shape(2, 2, 3));
        Assert.Equal([0L, 0, 1], b2.Strides.ToArray());
        Assert.Throws<TesseraException>(() => v.BroadcastTo(new Shape(2, 4)));
        Assert.Throws<TesseraException>(() => t.BroadcastTo(new Shape(3)));

        using var x = Iota(2, 3, 4);
        using var f = x.Flatten();
        Assert.Equal([24], f.Shape.Dims.ToArray());
        Assert.Same(x.Storage, f.Storage);
        using var f1 = x.Flatten(1);
        Assert.Equal([2, 12], f1.Shape.Dims.ToArray());
        using var f01 = x.Flatten(0, 1);
        Assert.Equal([6, 4], f01.Shape.Dims.ToArray());
        // Flattening a transposed view cannot be a view: it is a copy in the view's logical order.
        using var xt = x.Transpose(0, 2);
        using var ft = xt.Flatten();
        Assert.NotSame(x.Storage, ft.Storage);
        Assert.Equal(Values(xt), Values(ft));
    }

    [Fact]
    public void WritesThroughAViewAreSeenByTheBase()
    {
        using var t = Tensor.Zeros(B, DType.F32, new Shape(4, 5));
        using (var cols = t.T.Narrow(0, 1, 2)) B.Fill(cols, 7); // columns 1 and 2 of t
        var v = Values(t);
        for (int i = 0; i < 20; i++) Assert.Equal(i % 5 is 1 or 2 ? 7 : 0, v[i]);

        using var src = Iota(4, 3);
        using var every2 = t.Slice(1, 0, 5, 2); // columns 0, 2, 4
        B.Copy(src, every2);
        v = Values(t);
        for (int r = 0; r < 4; r++)
        {
            Assert.Equal(new float[] { r * 3, 7, r * 3 + 1, 0, r * 3 + 2 }, v[(r * 5)..(r * 5 + 5)]);
        }
        // And through a reshaped view of the same storage.
        using var flat = t.Reshape(-1);
        using var one = flat.Narrow(0, 19, 1);
        B.Fill(one, -1);
        Assert.Equal(-1, Values(t)[19]);
    }

    [Fact]
    public void ContiguousCopiesOnlyWhenNeeded()
    {
        using var t = Iota(3, 4);
        using var same = t.Contiguous();
        Assert.Same(t.Storage, same.Storage);
        using var tt = t.T;
        using var c = tt.Contiguous();
        Assert.NotSame(t.Storage, c.Storage);
        Assert.True(c.IsContiguous);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, Values(c));
        using var r = tt.Reshape(-1); // a copy, in logical order
        Assert.Equal(Values(c), Values(r));
        // A size-1 axis may have any stride and is still contiguous.
        using var col = Iota(3, 1);
        using var colT = col.T;
        Assert.True(colT.IsContiguous);
    }

    [Fact]
    public void EmptyTensorIsContiguous()
    {
        // Zeros lays it out row-major; with no elements there is no gap to find.
        using var empty = Tensor.Zeros(B, DType.F32, new Shape(3, 0));
        Assert.True(empty.IsContiguous, $"Zeros [3, 0] with strides [{string.Join(", ", empty.Strides.ToArray())}] reports a non-contiguous layout");
    }

    [Fact]
    public void ShapeBasics()
    {
        var s = new Shape(2, 3, 4);
        Assert.Equal(24, s.ElementCount);
        Assert.Equal(4, s[-1]);
        Assert.Equal(1, s.Axis(-2));
        Assert.Equal([12L, 4, 1], s.ContiguousStrides());
        Assert.Equal("[2, 3, 4]", s.ToString());
        Assert.Equal(new Shape(2, 3, 4), Shape.Broadcast(new Shape(3, 1), new Shape(2, 1, 4)));
        Assert.Equal(0, new Shape(3, 0, 2).ElementCount);
        Assert.Equal(1, new Shape().ElementCount);
    }
}
