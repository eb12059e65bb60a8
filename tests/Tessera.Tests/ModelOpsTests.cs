using Tessera.Cpu;
using Tessera.Quant;

namespace Tessera.Tests;

/// <summary>What the op table cannot say about the model-layer ops: sin/cos accuracy in ulps over wide ranges,
/// 64-bit integer comparisons past 2^53, the gated epilogue isolated from quantization error on every quantized
/// path, and the errors that bad input gets (naming shapes, dtypes and the offending id).</summary>
public class ModelOpsTests
{
    private static readonly IBackend B = TestBackends.Get("cpu-2t");

    private static void Fails(Func<object?> act, params string[] fragments)
    {
        var e = Assert.Throws<TesseraException>(() => { using var _ = act() as IDisposable; });
        foreach (var f in fragments) Assert.True(e.Message.Contains(f), $"message \"{e.Message}\" does not name {f}");
    }

    private static long Ulps(float a, float b)
    {
        if (a == b) return 0;
        int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
        if (ia < 0) ia = int.MinValue - ia;
        if (ib < 0) ib = int.MinValue - ib;
        return Math.Abs((long)ia - ib);
    }

    [Theory]
    [InlineData(UnaryOp.Sin)]
    [InlineData(UnaryOp.Cos)]
    public void SinCosAreWithinTwoUlpsOfTheRoundedDoubleResult(UnaryOp op)
    {
        var rng = new Random(7);
        var xs = new List<float> { 0f, -0f, MathF.PI, -MathF.PI / 2, 1e-30f, 1e7f, 123456.79f, 3e9f };
        foreach (double range in new[] { 4.0, 100, 1e4, 1e6 })
            for (int i = 0; i < 20000; i++) xs.Add((float)((rng.NextDouble() * 2 - 1) * range));
        using var x = Tensor.FromArray(B, xs.ToArray(), xs.Count);
        using var y = x.Map(op);
        var got = y.ToArray<float>();
        long worst = 0;
        for (int i = 0; i < xs.Count; i++)
        {
            float want = (float)(op == UnaryOp.Sin ? Math.Sin(xs[i]) : Math.Cos(xs[i]));
            // Near a zero of the function an ulp is tiny: judge by absolute error there (f32 sin/cos of an f32 input).
            long u = Math.Abs(want) < 1e-3f ? (Math.Abs(got[i] - want) < 1e-9f ? 0 : Ulps(got[i], want)) : Ulps(got[i], want);
            worst = Math.Max(worst, u);
        }
        Assert.True(worst <= 2, $"{op}: worst error {worst} ulps");
        using var special = Tensor.FromArray(B, new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity }, 3);
        using var s = special.Map(op);
        Assert.All(s.ToArray<float>(), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void I64ComparisonsAreExactPast2To53()
    {
        long big = 1L << 60;
        using var a = Tensor.FromArray(B, new[] { big, big + 1, long.MinValue, 3 }, 4);
        using var b = Tensor.FromArray(B, new[] { big + 1, big + 1, long.MinValue + 1, 3 }, 4);
        using var lt = a.Lt(b);
        using var eq = a.Eq(b);
        Assert.Equal(new byte[] { 1, 0, 1, 0 }, lt.ToArray<byte>());
        Assert.Equal(new byte[] { 0, 1, 0, 1 }, eq.ToArray<byte>());
        using var w = Tensor.Where(lt, a, b);
        Assert.Equal(new[] { big, big + 1, long.MinValue, 3 }, w.ToArray<long>());
    }

    [Fact]
    public void ComparingWithAScalarMakesAMask()
    {
        using var ids = Tensor.FromArray(B, new[] { 5, 0, 7, 0, 0 }, 1, 5);
        using var keep = ids.Compare(CompareOp.NotEqual, 0);
        Assert.Equal(DType.U8, keep.DType);
        Assert.Equal(new byte[] { 1, 0, 1, 0, 0 }, keep.ToArray<byte>());
        using var x = Tensor.FromArray(B, new[] { -1.5f, 0.25f, float.NaN }, 3);
        using var ge = x.Compare(CompareOp.GreaterOrEqual, 0.25);
        Assert.Equal(new byte[] { 0, 1, 0 }, ge.ToArray<byte>());
    }

    [Fact]
    public void WhereMovesBitsExactly()
    {
        float nanWithPayload = BitConverter.Int32BitsToSingle(0x7FC0_1234);
        using var c = Tensor.FromArray(B, new byte[] { 1, 0, 1 }, 3);
        using var a = Tensor.FromArray(B, new[] { nanWithPayload, 1f, -0f }, 3);
        using var b = Tensor.FromArray(B, new[] { 2f, 3f, 4f }, 3);
        var got = Tensor.Where(c, a, b).ToArray<float>();
        Assert.Equal(0x7FC0_1234, BitConverter.SingleToInt32Bits(got[0]));
        Assert.Equal(3f, got[1]);
        Assert.Equal(int.MinValue, BitConverter.SingleToInt32Bits(got[2])); // -0 stays -0
    }

    [Theory]
    [InlineData(DType.Q4_0, false, 1)]
    [InlineData(DType.Q4_0, true, 7)]
    [InlineData(DType.Q8_0, false, 7)]
    [InlineData(DType.Q8_0, true, 1)]
    [InlineData(DType.Q4_K, false, 3)]
    [InlineData(DType.I8, false, 5)]
    [InlineData(DType.I8, true, 9)]
    public void GatedEpilogueOnQuantizedWeightsMatchesTheUngatedProduct(DType type, bool constant, int m)
    {
        // The same backend's plain quantized product, gated in double afterwards: only the epilogue differs, so the
        // bound is f32 rounding (nmse 1e-7), not activation quantization.
        int k = type.BlockSize() == 256 ? 512 : 96, n = 33;
        var rng = new Random(m + (int)type);
        float[] R(int c) => Enumerable.Range(0, c).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var x = Tensor.FromArray(B, R(m * k), m, k);
        using var w0 = type == DType.I8 ? Tensor.FromArray(B, R(n * k).Select(v => (sbyte)(v * 127)).ToArray(), n, k) : QuantizedWeight(R(n * k), type, n, k);
        using var w = constant ? w0.AsConstant() : w0.Share();
        using var scales = type == DType.I8 ? Tensor.FromArray(B, R(n).Select(v => Math.Abs(v) * 0.01f + 0.001f).ToArray(), n) : null;
        using var bias = Tensor.FromArray(B, R(n), n);
        using var mul = Tensor.FromArray(B, R(m * n), m, n);
        using var res = Tensor.FromArray(B, R(n), n); // broadcast over the rows
        using var plain = x.Linear(w, new MatMulEpilogue(bias), scales);
        using var gated = x.Linear(w, new MatMulEpilogue(bias, Activation.Silu, res, mul), scales);
        var p = plain.ToArray<float>();
        var g = gated.ToArray<float>();
        var mv = mul.ToArray<float>();
        var rv = res.ToArray<float>();
        double err = 0, norm = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double want = p[i] / (1 + Math.Exp(-p[i])) * mv[i] + rv[i % n];
            err += (g[i] - want) * (g[i] - want);
            norm += want * want;
        }
        Assert.True(err / norm < 1e-7, $"{type} m={m}: nmse {err / norm:E2}");
    }

    private static Tensor QuantizedWeight(float[] values, DType type, int n, int k)
    {
        var bytes = new byte[type.ByteCount((long)n * k)];
        BlockQuant.Quantize(type, values, bytes);
        using var raw = Tensor.FromArray(B, bytes, bytes.Length);
        return Tensor.FromStorage(raw.Storage, type, new Shape(n, k));
    }

    [Fact]
    public void BadInputNamesShapesAndIds()
    {
        using var x = Tensor.Zeros(B, DType.F32, new Shape(3, 5));
        using var ids = Tensor.FromArray(B, new[] { 1, 5, 2 }, 3);
        Fails(() => x.IndexSelect(1, ids), "id 5", "position 1", "[3, 5]");
        using var neg = Tensor.FromArray(B, new long[] { -1 }, 1);
        Fails(() => x.IndexSelect(0, neg), "id -1");
        using var ids2 = Tensor.FromArray(B, new[] { 0, 1 }, 1, 2);
        Fails(() => x.IndexSelect(0, ids2), "1-D", "[1, 2]");
        Fails(() => x.TopK(6), "k = 6", "[3, 5]");
        Fails(() => x.GroupNorm(2, null, null), "5 channels", "2 groups");
        using var f = Tensor.Zeros(B, DType.F32, new Shape(3, 5));
        Fails(() => Tensor.Where(f, x, x), "u8", "f32");
        using var h = Tensor.Zeros(B, DType.F16, new Shape(3, 5));
        Fails(() => x.Compare(CompareOp.Less, h), "f32", "f16");
        using var big = Tensor.Zeros(B, DType.F32, new Shape(1, 5));
        using var bcast = big.BroadcastTo(new Shape(3, 5));
        Fails(() => { x.CopyInto(bcast); return null; }, "broadcast", "[3, 5]");
        using var small = Tensor.Zeros(B, DType.F32, new Shape(2, 5));
        Fails(() => { x.CopyInto(small); return null; }, "[3, 5]", "[2, 5]");
        using var w = Tensor.Zeros(B, DType.F32, new Shape(4, 5));
        using var badMul = Tensor.Zeros(B, DType.F32, new Shape(3, 3));
        Fails(() => x.Linear(w, new MatMulEpilogue(Multiplier: badMul)), "multiplier", "[3, 3]", "[3, 4]");
        Fails(() => Tensor.Arange(B, 0, 5, 0.5, DType.I32), "i32", "0.5");
        Fails(() => Tensor.Arange(B, 0, -1), "count");
        using var q = Tensor.Zeros(B, DType.F32, new Shape(2, 3, 4, 8));
        var (c, s) = RopeTables.Build1D(10, 8);
        using var ct = Tensor.FromArray(B, c, 10, 4);
        using var st = Tensor.FromArray(B, s, 10, 4);
        using var pos = Tensor.FromArray(B, new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1 }, 3, 4);
        Fails(() => q.Rope(ct, st, RopeMode.RotateHalf, pos), "positions", "[3, 4]", "[2, 3, 4, 8]");
        using var far = Tensor.FromArray(B, new[] { 0, 1, 2, 10 }, 4);
        Fails(() => q.Rope(ct, st, RopeMode.RotateHalf, far), "id 10");
    }

    [Fact]
    public void TopKOfALongRowAgreesBetweenTheSelectionAndTheSortPaths()
    {
        // k = 40 of 1031 keeps a sorted buffer; k = 1031 sorts everything: the first 40 must agree.
        var rng = new Random(3);
        var v = Enumerable.Range(0, 3 * 1031).Select(_ => (float)rng.Next(200)).ToArray();
        using var x = Tensor.FromArray(B, v, 3, 1031);
        var (small, si) = x.TopK(40);
        var (all, ai) = x.TopK(1031);
        using (small) using (si) using (all) using (ai)
        {
            using var head = ai.Narrow(1, 0, 40);
            Assert.Equal(si.ToArray<int>(), head.ToArray<int>());
            using var argsort = x.Argsort(descending: true);
            Assert.Equal(ai.ToArray<int>(), argsort.ToArray<int>());
        }
    }
}
