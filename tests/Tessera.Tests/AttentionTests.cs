using Tessera.Tests.Reference;
using Xunit;
using static Tessera.Tests.AttentionTestKit;

namespace Tessera.Tests;

/// <summary>The attention op on every test backend against the fp64 naive reference.</summary>
public class AttentionTests
{
    public static TheoryData<string> Backends() => new(TestBackends.Names);

    private static void Check(string backend, NaiveAttention.Problem p, string what)
    {
        var be = TestBackends.Get(backend);
        using var q = Q(be, p);
        using var k = K(be, p);
        using var v = V(be, p);
        using var m = Mask(be, p);
        using var o = q.Attention(k, v, p.Options, m);
        Assert.Equal(new Shape(p.B, p.Hq, p.Sq, p.D), o.Shape);
        AssertClose(p, o.ToFloatArray(), $"{backend} {what}");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void OddLengthsAndHeadDims(string backend)
    {
        int seed = 1;
        foreach (var (sq, skv) in new[] { (1, 1), (7, 7), (33, 33), (197, 197), (300, 300), (7, 300), (300, 33) })
            foreach (bool causal in new[] { false, true })
                Check(backend, Problem(seed++, 1, 2, 2, sq, skv, 64, new() { Causal = causal }), $"sq {sq} skv {skv} causal {causal}");
        foreach (int d in new[] { 32, 80, 128, 256, 20 })
            Check(backend, Problem(seed++, 2, 2, 1, 45, 77, d), $"d {d}");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void GroupedAndMultiQuery(string backend)
    {
        Check(backend, Problem(11, 1, 12, 4, 70, 70, 64, new() { Causal = true }), "gqa 12/4 causal");
        Check(backend, Problem(12, 2, 12, 1, 33, 90, 32), "mqa 12/1");
        Check(backend, Problem(13, 1, 12, 4, 1, 500, 64, new() { Causal = true }), "gqa decode");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Decode(string backend)
    {
        Check(backend, Problem(21, 2, 4, 4, 1, 1000, 64, new() { Causal = true }), "decode causal");
        Check(backend, Problem(22, 1, 4, 2, 1, 333, 128), "decode");
        Check(backend, Problem(23, 1, 2, 2, 5, 400, 64, new() { Causal = true }), "chunked prefill 5 of 400");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MasksAndWindows(string backend)
    {
        Check(backend, Problem(31, 2, 3, 3, 40, 150, 64, mask: true), "full additive mask");
        Check(backend, Problem(32, 1, 4, 2, 100, 100, 64, new() { Causal = true, WindowLeft = 17 }), "causal sliding window 17");
        Check(backend, Problem(33, 1, 2, 2, 130, 130, 32, new() { WindowLeft = 9, WindowRight = 40 }), "two-sided window");
        Check(backend, Problem(34, 1, 2, 2, 10, 300, 64, new() { Causal = true, WindowLeft = 150, Scale = 0.3f }), "window with decode-like alignment, custom scale");
        Check(backend, Problem(35, 1, 2, 2, 20, 20, 64, new() { Causal = true, QueryPosition = 10 }), "query position past the keys");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void BroadcastMaskAndFullyMaskedRows(string backend)
    {
        var be = TestBackends.Get(backend);
        var p = Problem(41, 2, 2, 2, 9, 50, 32);
        // A padding mask [B, 1, 1, Skv]: the second batch entry hides its last 20 keys; a row hidden completely.
        var pad = new float[2 * 50];
        for (int j = 30; j < 50; j++) pad[50 + j] = float.NegativeInfinity;
        var full = new float[2 * 2 * 9 * 50];
        for (int b = 0; b < 2; b++) for (int h = 0; h < 2; h++) for (int i = 0; i < 9; i++) for (int j = 0; j < 50; j++)
            full[((b * 2 + h) * 9 + i) * 50 + j] = pad[b * 50 + j];
        var expect = p with { Mask = full };
        using var q = Q(be, p);
        using var k = K(be, p);
        using var v = V(be, p);
        using var m = Tensor.FromArray(be, pad, 2, 1, 1, 50);
        using var o = q.Attention(k, v, null, m);
        AssertClose(expect, o.ToFloatArray(), "padding mask");

        var none = Problem(42, 1, 1, 1, 4, 6, 32, new() { Causal = true, QueryPosition = -3 });
        using var q2 = Q(be, none);
        using var k2 = K(be, none);
        using var v2 = V(be, none);
        var (o2, lse) = q2.AttentionWithLse(k2, v2, none.Options);
        using (o2) using (lse)
        {
            var got = o2.ToFloatArray();
            var l = lse.ToFloatArray();
            for (int i = 0; i < 3; i++)
            {
                Assert.All(got.AsSpan(i * 32, 32).ToArray(), x => Assert.Equal(0f, x));
                Assert.Equal(float.NegativeInfinity, l[i]);
            }
            AssertClose(none, got, "rows that see no key");
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void LogSumExp(string backend)
    {
        var be = TestBackends.Get(backend);
        var p = Problem(51, 1, 4, 2, 65, 130, 64, new() { Causal = true });
        using var q = Q(be, p);
        using var k = K(be, p);
        using var v = V(be, p);
        var (o, lse) = q.AttentionWithLse(k, v, p.Options);
        using (o) using (lse)
        {
            Assert.Equal(new Shape(1, 4, 65), lse.Shape);
            var (_, want) = NaiveAttention.Run(p);
            var got = lse.ToFloatArray();
            for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) < 1e-5 * Math.Max(1, Math.Abs(want[i])), $"lse[{i}] {got[i]} vs {want[i]}");
            AssertClose(p, o.ToFloatArray(), "with lse");
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void StridedBshdViews(string backend)
    {
        var be = TestBackends.Get(backend);
        var p = Problem(61, 2, 6, 3, 37, 37, 64, new() { Causal = true });
        // The same data laid out [B, S, H, D] (as a projection writes it), then permuted to [B, H, S, D] as a view.
        static float[] ToBshd(float[] x, int b, int h, int s, int d)
        {
            var y = new float[x.Length];
            for (int i = 0; i < b; i++) for (int j = 0; j < h; j++) for (int t = 0; t < s; t++) for (int c = 0; c < d; c++)
                y[((i * s + t) * h + j) * d + c] = x[((i * h + j) * s + t) * d + c];
            return y;
        }
        using var qs = Tensor.FromArray(be, ToBshd(p.Q, 2, 6, 37, 64), 2, 37, 6, 64);
        using var ks = Tensor.FromArray(be, ToBshd(p.K, 2, 3, 37, 64), 2, 37, 3, 64);
        using var vs = Tensor.FromArray(be, ToBshd(p.V, 2, 3, 37, 64), 2, 37, 3, 64);
        using var q = qs.Permute(0, 2, 1, 3);
        using var k = ks.Permute(0, 2, 1, 3);
        using var v = vs.Permute(0, 2, 1, 3);
        Assert.False(q.IsContiguous);
        using var o = q.Attention(k, v, p.Options);
        AssertClose(p, o.ToFloatArray(), "permuted views");
        // A transposed head dim (stride != 1 along D) goes through the same kernel.
        using var kt = Tensor.FromArray(be, p.K, 2, 3, 37, 64).Transpose(2, 3).Contiguous();
        using var k2 = kt.Transpose(2, 3);
        using var q3 = Q(be, p);
        using var v3 = V(be, p);
        using var o3 = q3.Attention(k2, v3, p.Options);
        AssertClose(p, o3.ToFloatArray(), "k with strided head dim");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Bf16Inputs(string backend)
    {
        var be = TestBackends.Get(backend);
        var p = Problem(71, 1, 2, 2, 20, 40, 64);
        // Round the inputs to bf16 first, so the reference sees exactly what the kernel sees.
        static float[] R(float[] x) => x.Select(f => BFloat16.ToSingle(BFloat16.Round(f))).ToArray();
        p = p with { Q = R(p.Q), K = R(p.K), V = R(p.V) };
        using var q32 = Q(be, p);
        using var k32 = K(be, p);
        using var v32 = V(be, p);
        using var q = q32.To(DType.BF16);
        using var k = k32.To(DType.BF16);
        using var v = v32.To(DType.BF16);
        using var o = q.Attention(k, v);
        Assert.Equal(DType.BF16, o.DType);
        using var of = o.To(DType.F32);
        var (want, _) = NaiveAttention.Run(p);
        Assert.True(NaiveAttention.MaxError(of.ToFloatArray(), want) < 2e-2);
    }

    [Fact]
    public void ShapeErrorsNameTheShapes()
    {
        var be = TestBackends.Get(TestBackends.Names.First());
        using var q = Tensor.Zeros(be, DType.F32, new Shape(1, 6, 4, 64));
        using var k = Tensor.Zeros(be, DType.F32, new Shape(1, 4, 5, 64));
        using var k3 = Tensor.Zeros(be, DType.F32, new Shape(4, 5, 64));
        using var m = Tensor.Zeros(be, DType.F32, new Shape(1, 1, 3, 5));
        using var k2 = Tensor.Zeros(be, DType.F32, new Shape(1, 2, 5, 64));
        Assert.Contains("[1, 4, 5, 64]", Assert.Throws<TesseraException>(() => q.Attention(k, k)).Message);
        Assert.Contains("[4, 5, 64]", Assert.Throws<TesseraException>(() => q.Attention(k3, k3)).Message);
        Assert.Contains("mask [1, 1, 3, 5]", Assert.Throws<TesseraException>(() => q.Attention(k2, k2, null, m)).Message);
    }
}
