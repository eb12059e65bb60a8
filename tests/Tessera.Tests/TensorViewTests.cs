using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>Views share storage and only change shape, strides and offset; copies and conversions are
/// exact; storage lives exactly as long as its last view; scopes dispose what they made.</summary>
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

    // ---- storage lifetime -------------------------------------------------------------------------------

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

    // ---- dtype conversion ---------------------------------------------------------------------------

    [Fact]
    public void BFloat16RoundKnownValues()
    {
        ushort R(uint bits) => BFloat16.Round(BitConverter.UInt32BitsToSingle(bits));
        Assert.Equal(0x3F80, R(0x3F80_0000));                  // 1
        Assert.Equal(0x3F80, R(0x3F80_8000));                  // 1 + 2^-8: a tie, to the even 1
        Assert.Equal(0x3F82, R(0x3F81_8000));                  // 1 + 3 * 2^-8: a tie, to the even 0x3F82
        Assert.Equal(0x3F81, R(0x3F80_8001));                  // just above the tie rounds up
        Assert.Equal(0x3F80, R(0x3F80_7FFF));                  // just below rounds down
        Assert.Equal(0xBF82, R(0xBF81_8000));                  // ties to even for negatives too
        Assert.Equal(0x7F80, R(0x7F7F_FFFF));                  // float.MaxValue rounds to +inf
        Assert.Equal(0x7F80, R(0x7F80_0000));                  // +inf
        Assert.Equal(0xFF80, R(0xFF80_0000));                  // -inf
        Assert.Equal(0x8000, R(0x8000_0000));                  // -0
        Assert.Equal(0x0000, R(0x0000_8000));                  // subnormal tie to even 0
        Assert.Equal(0x0002, R(0x0001_8000));                  // subnormal tie to even 2
        Assert.True(float.IsNaN(BFloat16.ToSingle(R(0x7F80_0001)))); // a NaN whose payload sits in the low bits stays NaN, not inf
        Assert.True(float.IsNaN(BFloat16.ToSingle(R(0xFFC0_0000))));
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.Round(float.NaN))));
        Assert.Equal(1.5f, (float)(BFloat16)1.5f);
        Assert.Equal(3.140625f, (float)(BFloat16)3.14159265f);
    }

    /// <summary>Values that probe rounding: ties both ways, just off ties, subnormals, overflow, infinities, NaN.</summary>
    private static float[] Probes()
    {
        var bits = new uint[] { 0x3F80_0000, 0x3F80_8000, 0x3F81_8000, 0x3F80_8001, 0x3F80_7FFF, 0xBF81_8000, 0x7F7F_FFFF,
            0x7F80_0000, 0xFF80_0000, 0x8000_0000, 0x0000_8000, 0x0001_8000, 0x7F80_0001, 0x7FC0_0000, 0x0000_0001,
            0x3F80_1000, 0x3F80_3000, 0x477F_F000, 0x477F_E000, 0x3880_0000, 0x3300_0000, 0x3300_0001 };
        var rng = new Random(5);
        // Pad past a few vector widths so that both the vector body and the scalar tail convert probes.
        return bits.Select(BitConverter.UInt32BitsToSingle)
            .Concat(Enumerable.Range(0, 75).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-30, 30))))).ToArray();
    }

    [Fact]
    public void F32ToBf16RoundsToNearestEvenContiguousAndStrided()
    {
        var probes = Probes();
        var expected = probes.Select(BFloat16.Round).ToArray();
        using var t = Tensor.FromArray(B, probes, probes.Length);
        using var b = t.To(DType.BF16);
        AssertBf16(expected, b.ToArray<BFloat16>().Select(x => x.Bits).ToArray());
        // Strided: the probes as column 1 of a [n, 3] tensor, read through a view.
        var wide = new float[probes.Length * 3];
        for (int i = 0; i < probes.Length; i++) wide[i * 3 + 1] = probes[i];
        using var w = Tensor.FromArray(B, wide, probes.Length, 3);
        using var col = w.Select(1, 1);
        using var bs = col.To(DType.BF16);
        AssertBf16(expected, bs.ToArray<BFloat16>().Select(x => x.Bits).ToArray());
    }

    private static void AssertBf16(ushort[] expected, ushort[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(BFloat16.ToSingle(expected[i]))) Assert.True(float.IsNaN(BFloat16.ToSingle(actual[i])), $"element {i}: expected NaN, got 0x{actual[i]:X4}");
            else Assert.True(expected[i] == actual[i], $"element {i}: expected 0x{expected[i]:X4}, got 0x{actual[i]:X4}");
        }
    }

    [Fact]
    public void F32ToF16RoundsLikeSystemHalf()
    {
        var probes = Probes();
        var expected = probes.Select(f => (Half)f).ToArray();
        using var t = Tensor.FromArray(B, probes, probes.Length);
        using var h = t.To(DType.F16);
        var got = h.ToArray<Half>();
        using var back = h.To(DType.F32);
        var f32 = back.ToArray<float>();
        for (int i = 0; i < probes.Length; i++)
        {
            if (Half.IsNaN(expected[i])) { Assert.True(Half.IsNaN(got[i])); Assert.True(float.IsNaN(f32[i])); continue; }
            Assert.True(expected[i] == got[i] && BitConverter.HalfToUInt16Bits(expected[i]) == BitConverter.HalfToUInt16Bits(got[i]), $"element {i} ({probes[i]:R}): expected {expected[i]}, got {got[i]}");
            Assert.Equal((float)expected[i], f32[i]);
        }
        // Strided source.
        var wide = new float[probes.Length * 2];
        for (int i = 0; i < probes.Length; i++) wide[i * 2] = probes[i];
        using var w = Tensor.FromArray(B, wide, probes.Length, 2);
        using var col = w.Select(1, 0);
        using var hs = col.To(DType.F16);
        var gs = hs.ToArray<Half>();
        for (int i = 0; i < probes.Length; i++)
            Assert.True(Half.IsNaN(expected[i]) ? Half.IsNaN(gs[i]) : BitConverter.HalfToUInt16Bits(expected[i]) == BitConverter.HalfToUInt16Bits(gs[i]), $"strided element {i}");
    }

    [Fact]
    public void EverySixteenBitValueRoundTripsThroughF32()
    {
        var halves = Enumerable.Range(0, 65536).Select(i => BitConverter.UInt16BitsToHalf((ushort)i)).ToArray();
        using var h = Tensor.FromArray(B, halves, 256, 256);
        using var hf = h.To(DType.F32);
        using var hh = hf.To(DType.F16);
        var f = hf.ToArray<float>();
        var back = hh.ToArray<Half>();
        for (int i = 0; i < 65536; i++)
        {
            if (Half.IsNaN(halves[i])) { Assert.True(float.IsNaN(f[i]) && Half.IsNaN(back[i]), $"f16 0x{i:X4}"); continue; }
            Assert.True((float)halves[i] == f[i] && BitConverter.HalfToUInt16Bits(back[i]) == i, $"f16 0x{i:X4}");
        }

        var bf = Enumerable.Range(0, 65536).Select(i => new BFloat16((ushort)i)).ToArray();
        using var b = Tensor.FromArray(B, bf, 256, 256);
        using var bfF = b.To(DType.F32);
        using var bb = bfF.To(DType.BF16);
        var bf32 = bfF.ToArray<float>();
        var bback = bb.ToArray<BFloat16>();
        for (int i = 0; i < 65536; i++)
        {
            float exact = BitConverter.UInt32BitsToSingle((uint)i << 16);
            if (float.IsNaN(exact)) { Assert.True(float.IsNaN(bf32[i]) && float.IsNaN(BFloat16.ToSingle(bback[i].Bits)), $"bf16 0x{i:X4}"); continue; }
            Assert.True(BitConverter.SingleToUInt32Bits(bf32[i]) == BitConverter.SingleToUInt32Bits(exact) && bback[i].Bits == i, $"bf16 0x{i:X4}");
        }
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
