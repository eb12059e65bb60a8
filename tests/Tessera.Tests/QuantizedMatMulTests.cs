using Tessera.Cpu;
using Tessera.Cpu.Quant;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>The CPU quantized matmul (Tensor.Linear with a quantized weight) against a naive double-precision product
/// of the dequantized weight (ggml's dequantize_row_* written out below) and the backend's own quantized activations:
/// the same inputs, so the bound is tight (nmse &lt; 1e-7). Against the unquantized activations the error is that of
/// 8-bit activation quantization: nmse &lt; 1e-4 (uniform rounding of 8 bits gives about 1/(4*127^2) = 1.6e-5).</summary>
public unsafe class QuantizedMatMulTests
{
    public static TheoryData<string, int, int, int, int> Cases()
    {
        var d = new TheoryData<string, int, int, int, int>();
        foreach (var t in new[] { "i8", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k" })
        {
            int bs = t is "q4_k" or "q6_k" ? 256 : t == "i8" ? 4 : 32;
            int big = t is "q4_k" or "q6_k" ? 4608 : 4160; // past any cache block
            if (t == "i8") { d.Add(t, 1, 7, 1, 1); d.Add(t, 6, 33, 17, 2); d.Add(t, 13, 130, 65, 2); }
            d.Add(t, 1, bs, 1, 1);
            d.Add(t, 2, 3 * bs, 3, 2);
            d.Add(t, 3, bs, 17, 1);
            d.Add(t, 7, 2 * bs, 65, 2);
            d.Add(t, 33, big, 129, 2);
            d.Add(t, 197, 768, 65, 2);
            d.Add(t, 1, big, 129, 2);
        }
        return d;
    }

    /// <summary>The cases of the formats whose constant weights are repacked (PackedQ32), plus group tails.</summary>
    public static TheoryData<string, int, int, int, int> RepackedCases()
    {
        var d = new TheoryData<string, int, int, int, int>();
        foreach (var row in Cases())
            if (row[0] is "q8_0" or "q4_0") d.Add((string)row[0], (int)row[1], (int)row[2], (int)row[3], (int)row[4]);
        foreach (var t in new[] { "q8_0", "q4_0" }) { d.Add(t, 5, 96, 7, 1); d.Add(t, 1, 4096, 72, 2); d.Add(t, 9, 64, 8, 2); }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheDequantizedProduct(string type, int m, int k, int n, int threads) => Check(type, m, k, n, threads, constant: false);

    [Theory]
    [MemberData(nameof(RepackedCases))]
    public void ConstantWeightsMatchTheDequantizedProduct(string type, int m, int k, int n, int threads) => Check(type, m, k, n, threads, constant: true);

    private static void Check(string type, int m, int k, int n, int threads, bool constant)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        var rng = new Random(m * 7919 + k * 31 + n);
        var x = RandFloats(rng, m * k, 1f);
        using var w0 = MakeWeight(cpu, type, n, k, rng, out var wDeq, out var scales);
        using var wq = constant ? w0.AsConstant() : w0.Share();
        var bias = RandFloats(rng, n, 0.5f);
        var resid = RandFloats(rng, m * n, 1f);
        using var tb = Tensor.FromArray(cpu, bias, n);
        using var tr = Tensor.FromArray(cpu, resid, m, n);
        using var ts = scales is null ? null : Tensor.FromArray(cpu, scales, n);
        // x as a strided view: the transpose of a [K, M] tensor.
        var xt = new float[k * m];
        for (int i = 0; i < m; i++) for (int j = 0; j < k; j++) xt[j * m + i] = x[i * k + j];
        using var txT = Tensor.FromArray(cpu, xt, k, m);
        using var tx = txT.T;
        foreach (var ep in new (bool Bias, Activation Act, bool Res)[] { (false, Activation.None, false), (true, Activation.Gelu, true) })
        {
            var epilogue = new MatMulEpilogue(ep.Bias ? tb : null, ep.Act, ep.Res ? tr : null);
            using var y = tx.Linear(wq, epilogue, ts);
            var got = y.ToFloatArray();
            var xq = QuantizedActivations(type, x, m, k);
            var want = Reference(xq, wDeq, m, k, n, ep.Bias ? bias : null, ep.Act, ep.Res ? resid : null);
            Assert.True(Nmse(got, want) < 1e-7, $"{type} {m}x{k}x{n}: nmse {Nmse(got, want):E2} vs the quantized-activation reference");
            var exact = Reference(x, wDeq, m, k, n, ep.Bias ? bias : null, ep.Act, ep.Res ? resid : null);
            Assert.True(Nmse(got, exact) < 1e-4, $"{type} {m}x{k}x{n}: nmse {Nmse(got, exact):E2} vs f32 activations");
        }
    }

    [Theory]
    [InlineData("i8")]
    [InlineData("q4_0")]
    [InlineData("q4_k")]
    public void Bf16ActivationsAndConstantWeights(string type)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        var rng = new Random(5);
        int m = 9, k = 512, n = 40;
        var x = RandFloats(rng, m * k, 1f);
        using var w0 = MakeWeight(cpu, type, n, k, rng, out var wDeq, out var scales);
        using var w = w0.AsConstant(); // int8: the packed VNNI layout is made once and reused
        using var ts = scales is null ? null : Tensor.FromArray(cpu, scales, n);
        using var x32 = Tensor.FromArray(cpu, x, 1, m, k);
        using var xb = x32.To(DType.BF16);
        var xr = xb.ToFloatArray(); // the bf16-rounded values are what the backend sees
        for (int call = 0; call < 2; call++)
        {
            using var y = xb.Linear(w, null, ts);
            Assert.Equal(DType.BF16, y.DType);
            Assert.Equal(new Shape(1, m, n), y.Shape);
            var want = Reference(QuantizedActivations(type, xr, m, k), wDeq, m, k, n, null, Activation.None, null);
            Assert.True(Nmse(y.ToFloatArray(), want) < 1e-5, $"bf16 output nmse {Nmse(y.ToFloatArray(), want):E2}"); // bf16 output rounding
        }
    }

    [Theory]
    [InlineData(DType.Q4_0, 48)]
    [InlineData(DType.Q8_0, 40)]
    [InlineData(DType.Q4_K, 288)]
    public void KNotAMultipleOfTheBlockIsRefused(DType type, int k)
    {
        var cpu = new CpuBackend();
        int n = 2 * type.BlockSize(); // so that N * K fills whole blocks and the tensor itself can exist
        using var storage0 = Tensor.Zeros(cpu, DType.U8, new Shape((int)type.ByteCount((long)n * k)));
        using var w = Tensor.FromStorage(storage0.Storage, type, new Shape(n, k));
        using var x = Tensor.Zeros(cpu, DType.F32, new Shape(3, k));
        var e = Assert.Throws<TesseraException>(() => x.Linear(w).Dispose());
        Assert.Contains($"[{n}, {k}]", e.Message);
        Assert.Contains(type.BlockSize().ToString(), e.Message);
    }

    // ---- test data: weights as ggml stores them, and their dequantized values ----

    private static float[] RandFloats(Random r, int count, float scale) =>
        Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    private static Tensor MakeWeight(CpuBackend cpu, string type, int n, int k, Random rng, out double[] deq, out float[]? scales)
    {
        scales = null;
        deq = new double[(long)n * k];
        if (type == "i8")
        {
            var q = new sbyte[n * k];
            scales = RandFloats(rng, n, 0.01f).Select(Math.Abs).ToArray();
            for (int i = 0; i < q.Length; i++) { q[i] = (sbyte)rng.Next(-128, 128); deq[i] = q[i] * (double)scales[i / k]; }
            return Tensor.FromArray(cpu, q, n, k);
        }
        var dt = DTypeInfo.Parse(type);
        var bytes = new byte[dt.ByteCount((long)n * k)];
        int bb = dt.BlockBytes(), bs = dt.BlockSize();
        for (int blk = 0; blk < n * k / bs; blk++)
        {
            var b = bytes.AsSpan(blk * bb, bb);
            if (type is "q4_k" or "q6_k")
            {
                // Random valid blocks byte-wise: every bit of scales and quants used, small positive f16 scales.
                rng.NextBytes(b);
                if (type == "q4_k") { Half(b, 0, 0.002f + 0.01f * (float)rng.NextDouble()); Half(b, 2, 0.01f * (float)rng.NextDouble()); }
                else Half(b, 208, 0.001f + 0.01f * (float)rng.NextDouble());
            }
            else QuantizeBlock(type, RandFloats(rng, 32, 1f), b);
            var v = DequantizeBlock(type, b);
            for (int i = 0; i < bs; i++) deq[(long)blk * bs + i] = v[i];
        }
        using var u8 = Tensor.FromArray(cpu, bytes, bytes.Length);
        return Tensor.FromStorage(u8.Storage, dt, new Shape(n, k));
    }

    private static void Half(Span<byte> b, int at, float v) => BitConverter.TryWriteBytes(b[at..], (Half)v);

    private static float H(ReadOnlySpan<byte> b, int at) => (float)BitConverter.ToHalf(b[at..]);

    /// <summary>ggml's quantize_row_q8_0_ref / q4_0_ref / q4_1_ref for one block.</summary>
    private static void QuantizeBlock(string type, float[] x, Span<byte> b)
    {
        if (type == "q8_0")
        {
            float amax = x.Max(MathF.Abs), d = amax / 127, id = d == 0 ? 0 : 1 / d;
            Half(b, 0, d);
            for (int i = 0; i < 32; i++) b[2 + i] = (byte)(sbyte)MathF.Round(x[i] * id);
        }
        else if (type == "q4_0")
        {
            float max = x.MaxBy(MathF.Abs), d = max / -8, id = d == 0 ? 0 : 1 / d;
            Half(b, 0, d);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)(x[j] * id + 8.5f)), hi = Math.Min(15, (int)(x[j + 16] * id + 8.5f));
                b[2 + j] = (byte)(lo | (hi << 4));
            }
        }
        else
        {
            float min = x.Min(), max = x.Max(), d = (max - min) / 15, id = d == 0 ? 0 : 1 / d;
            Half(b, 0, d); Half(b, 2, min);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)((x[j] - min) * id + 0.5f)), hi = Math.Min(15, (int)((x[j + 16] - min) * id + 0.5f));
                b[4 + j] = (byte)(lo | (hi << 4));
            }
        }
    }

    /// <summary>ggml's dequantize_row_* for one block, in double.</summary>
    private static double[] DequantizeBlock(string type, ReadOnlySpan<byte> b)
    {
        switch (type)
        {
            case "q8_0": { var y = new double[32]; for (int i = 0; i < 32; i++) y[i] = (sbyte)b[2 + i] * (double)H(b, 0); return y; }
            case "q4_0":
            {
                var y = new double[32]; double d = H(b, 0);
                for (int j = 0; j < 16; j++) { y[j] = ((b[2 + j] & 15) - 8) * d; y[j + 16] = ((b[2 + j] >> 4) - 8) * d; }
                return y;
            }
            case "q4_1":
            {
                var y = new double[32]; double d = H(b, 0), mn = H(b, 2);
                for (int j = 0; j < 16; j++) { y[j] = (b[4 + j] & 15) * d + mn; y[j + 16] = (b[4 + j] >> 4) * d + mn; }
                return y;
            }
            case "q4_k":
            {
                var y = new double[256]; double d = H(b, 0), dmin = H(b, 2);
                var sc = b.Slice(4, 12); var q = b.Slice(16);
                int yi = 0, qi = 0;
                for (int j = 0, s = 0; j < 256; j += 64, s += 2, qi += 32)
                {
                    ScaleMin(s, sc, out int sc1, out int m1); ScaleMin(s + 1, sc, out int sc2, out int m2);
                    for (int l = 0; l < 32; l++) y[yi++] = d * sc1 * (q[qi + l] & 15) - dmin * m1;
                    for (int l = 0; l < 32; l++) y[yi++] = d * sc2 * (q[qi + l] >> 4) - dmin * m2;
                }
                return y;
            }
            default: // q6_k
            {
                var y = new double[256]; double d = H(b, 208);
                for (int h = 0; h < 2; h++)
                {
                    var ql = b.Slice(64 * h); var qh = b.Slice(128 + 32 * h); var sc = b.Slice(192 + 8 * h);
                    for (int l = 0; l < 32; l++)
                    {
                        int s = l / 16;
                        int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32, q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32, q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                        y[128 * h + l] = d * (sbyte)sc[s] * q1; y[128 * h + l + 32] = d * (sbyte)sc[s + 2] * q2;
                        y[128 * h + l + 64] = d * (sbyte)sc[s + 4] * q3; y[128 * h + l + 96] = d * (sbyte)sc[s + 6] * q4;
                    }
                }
                return y;
            }
        }
    }

    private static void ScaleMin(int j, ReadOnlySpan<byte> q, out int d, out int m)
    {
        if (j < 4) { d = q[j] & 63; m = q[j + 4] & 63; }
        else { d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
    }

    /// <summary>The backend's activation quantization, dequantized: q * d per row or block.</summary>
    private static float[] QuantizedActivations(string type, float[] x, int m, int k)
    {
        var kind = type == "i8" ? ActKind.Row : type is "q4_k" or "q6_k" ? ActKind.Block256 : ActKind.Block32;
        using var xq = new QuantizedRows(kind, m, k);
        fixed (float* px = x) xq.Quantize(px, 0, m);
        var y = new float[m * k];
        for (int r = 0; r < m; r++)
            for (int i = 0; i < k; i++) y[r * k + i] = xq.Row(r)[i] * xq.D[(long)r * xq.Groups + i / xq.Group];
        return y;
    }

    private static double[] Reference(float[] x, double[] w, int m, int k, int n, float[]? bias, Activation act, float[]? res)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int l = 0; l < k; l++) s += x[i * k + l] * w[(long)j * k + l];
                if (bias != null) s += bias[j];
                if (act == Activation.Gelu) s = NaiveOps.Gelu(s);
                if (res != null) s += res[i * n + j];
                y[i * n + j] = s;
            }
        return y;
    }

    private static double Nmse(float[] got, double[] want)
    {
        double e = 0, s = 0;
        for (int i = 0; i < got.Length; i++) { e += (got[i] - want[i]) * (got[i] - want[i]); s += want[i] * want[i]; }
        return s == 0 ? e : e / s;
    }
}
