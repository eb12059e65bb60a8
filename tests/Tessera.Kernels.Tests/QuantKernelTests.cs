using System.Runtime.InteropServices;
using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>QuantKernels on the CPU accelerator: the activation quantization bit for bit against the CPU backend's
/// rule (d = max|x| / 127, q = round-half-even(x / d) per row, 32- or 256-block), and the GEMV and GEMM kernels
/// against a double product of ggml's dequantized weights (written out below, per format) with those quantized
/// activations, so the bound is tight (nmse &lt; 1e-7), with and without the bias / activation / multiplier / residual epilogue.</summary>
public sealed class QuantKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    [Fact]
    public void Type_codes_are_the_engine_dtypes()
    {
        Assert.Equal((int)DType.I8, QuantCodes.I8);
        Assert.Equal((int)DType.Q8_0, QuantCodes.Q8_0);
        Assert.Equal((int)DType.Q4_0, QuantCodes.Q4_0);
        Assert.Equal((int)DType.Q4_1, QuantCodes.Q4_1);
        Assert.Equal((int)DType.Q4_K, QuantCodes.Q4_K);
        Assert.Equal((int)DType.Q6_K, QuantCodes.Q6_K);
        foreach (var t in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q4_K, DType.Q6_K })
        {
            Assert.Equal(t.BlockBytes(), QuantCodes.BlockBytes((int)t));
            Assert.Equal(t.BlockSize(), QuantCodes.BlockSize((int)t));
        }
    }

    public static TheoryData<DType, int, int, int, bool> Cases()
    {
        var d = new TheoryData<DType, int, int, int, bool>();
        foreach (var t in new[] { DType.I8, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q4_K, DType.Q6_K })
        {
            int bs = t is DType.Q4_K or DType.Q6_K ? 256 : 32;
            if (t == DType.I8) { d.Add(t, 1, 7, 5, false); d.Add(t, 3, 33, 33, true); d.Add(t, 7, 130, 5, true); }
            d.Add(t, 1, bs, 1, false);
            d.Add(t, 3, 2 * bs, 5, true);
            d.Add(t, 7, t is DType.Q4_K or DType.Q6_K ? 256 : 224, 33, true);
        }
        // 2 x 2 GEMM tiles on a grid of 2 blocks: the grid-stride loop wraps, edge tiles are partial.
        d.Add(DType.Q4_1, 70, 64, 65, true);
        d.Add(DType.Q6_K, 66, 256, 67, false);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemv_and_gemm_match_the_dequantized_product(DType type, int m, int k, int n, bool epilogue)
    {
        var rng = new Random(m * 7919 + k * 31 + n + (int)type);
        var x = Values(m * k, rng.Next(), -1f, 1f);
        var wBytes = MakeWeight(type, n, k, rng, out var wDeq, out var scales);
        var bias = Values(n, rng.Next(), -0.5f, 0.5f);
        var resid = Values(m * n, rng.Next(), -1f, 1f);
        var mul = Values(m * n, rng.Next(), -2f, 2f);
        var a = Args(type, m, n, k);
        if (epilogue) { a.Act = OpCodes.Gelu; a.HasResidual = 1; a.HasMultiplier = 1; }

        // x as a strided view: the transpose of a stored [K, M] matrix (rows stride 1, columns stride M).
        var xt = new float[k * m];
        for (int i = 0; i < m; i++) for (int j = 0; j < k; j++) xt[j * m + i] = x[i * k + j];
        a.XColStride = m;
        using var bx = _h.Bytes(xt);
        using var bq = _h.Zeros<byte>((long)m * a.KPad);
        using var bd = _h.Zeros<float>((long)m * a.Groups);
        _h.Launch(typeof(QuantKernels), nameof(QuantKernels.QuantizeActivations), grid: 2, group: QuantKernels.Threads,
            bx.View, Layout(ElementCodes.F32, 0, [m], [1]), a, bq.View, bd.View);
        var (wantQ, wantD) = QuantizeLikeTheCpu(x, m, k, a.GroupSize);
        var gotQ = _h.Download(bq);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < a.KPad; j++)
                Assert.Equal(j < k ? (byte)wantQ[i * k + j] : (byte)0, gotQ[i * a.KPad + j]);
        Assert.Equal(wantD, _h.Download(bd, m * a.Groups));

        var xq = new double[m * k];
        for (int i = 0; i < m * k; i++) xq[i] = wantQ[i] * (double)wantD[i / k * a.Groups + (a.Groups == 1 ? 0 : i % k / a.GroupSize)];
        var want = Reference(xq, wDeq, m, k, n, epilogue ? bias : null, epilogue ? Activation.Gelu : Activation.None, epilogue ? resid : null,
            epilogue ? mul : null);

        using var bw = _h.Upload(wBytes);
        using var bs = _h.Bytes(scales ?? [0f]);
        using var bb = _h.Bytes(bias);
        using var br = _h.Bytes(resid);
        using var bm = _h.Bytes(mul);
        var sa = scales is null ? new VecArg { DType = -1 } : new VecArg { DType = ElementCodes.F32, Stride = 1 };
        var ba = epilogue ? new VecArg { DType = ElementCodes.F32, Stride = 1 } : new VecArg { DType = -1 };
        foreach (var kernel in new[] { nameof(QuantKernels.Gemv), nameof(QuantKernels.Gemm) })
        {
            using var bc = _h.Zeros<byte>((long)m * n * 4);
            _h.Launch(typeof(QuantKernels), kernel, grid: 2, group: QuantKernels.Threads,
                bw.View, bs.View, sa, bq.View, bd.View, a, bb.View, ba, br.View, Layout(ElementCodes.F32, 0, [m], [n]),
                bm.View, Layout(ElementCodes.F32, 0, [m], [n]), bc.View, Layout(ElementCodes.F32, 0, [m], [n]));
            AssertClose(want, _h.F32(bc, m * n));
        }
    }

    [Fact]
    public void Quantization_of_bf16_rows_rounds_ties_to_even_like_the_cpu()
    {
        // Values that land exactly on .5 after scaling: amax = 127 gives d = 1, so x = 2.5 -> 2 and -3.5 -> -4.
        const int m = 2, k = 64;
        var x = Values(m * k, 3, -100f, 100f);
        x[0] = 127f; x[1] = 2.5f; x[2] = -3.5f; x[3] = 0.5f; x[4] = -0.5f;
        for (int i = k; i < 2 * k; i++) x[i] = 0f; // an all-zero row: d = 0, q = 0
        var bits = x.Select(Bf16).ToArray();
        var xr = bits.Select(FromBf16).ToArray();
        var a = Args(DType.I8, m, 1, k);
        using var bx = _h.Bytes(bits);
        using var bq = _h.Zeros<byte>((long)m * a.KPad);
        using var bd = _h.Zeros<float>(m);
        _h.Launch(typeof(QuantKernels), nameof(QuantKernels.QuantizeActivations), grid: 1, group: 64,
            bx.View, Layout(ElementCodes.BF16, 0, [m], [k]), a, bq.View, bd.View);
        var (wantQ, wantD) = QuantizeLikeTheCpu(xr, m, k, k);
        Assert.Equal(wantQ.Select(v => (byte)v), _h.Download(bq, m * k));
        Assert.Equal(wantD, _h.Download(bd, m));
        Assert.Equal([127, 2, -4, 0, 0], wantQ[..5].Select(v => (int)v));
    }

    // ---- helpers ----

    private static QMatArgs Args(DType type, int m, int n, int k)
    {
        int group = type == DType.I8 ? k : type.BlockSize() == 256 ? 256 : 32;
        return new QMatArgs
        {
            M = m, N = n, K = k, KPad = (k + 31) / 32 * 32, Groups = k / group, GroupSize = group, WType = (int)type,
            RowBytes = type.ByteCount(k), XColStride = 1, RColStride = 1, DColStride = 1, MColStride = 1, Act = -1,
        };
    }

    /// <summary>The CPU backend's activation quantization (QuantizedRows.QuantizeGroup), scalar.</summary>
    private static (sbyte[] Q, float[] D) QuantizeLikeTheCpu(float[] x, int m, int k, int group)
    {
        var q = new sbyte[m * k];
        var d = new float[m * (k / group)];
        for (int i = 0; i < m; i++)
            for (int g = 0; g < k / group; g++)
            {
                float amax = 0;
                for (int j = 0; j < group; j++) amax = MathF.Max(amax, MathF.Abs(x[i * k + g * group + j]));
                float dd = amax / 127f, id = dd == 0 ? 0 : 1f / dd;
                d[i * (k / group) + g] = dd;
                for (int j = 0; j < group; j++) q[i * k + g * group + j] = (sbyte)(int)MathF.Round(x[i * k + g * group + j] * id);
            }
        return (q, d);
    }

    private static double[] Reference(double[] x, double[] w, int m, int k, int n, float[]? bias, Activation act, float[]? res, float[]? mul)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int l = 0; l < k; l++) s += x[i * k + l] * w[(long)j * k + l];
                if (bias != null) s += bias[j];
                if (act == Activation.Gelu) s = NaiveOps.Gelu(s);
                if (mul != null) s *= mul[i * n + j];
                if (res != null) s += res[i * n + j];
                y[i * n + j] = s;
            }
        return y;
    }

    /// <summary>A random weight [N, K] as GGUF stores it (every bit of quants and packed scales used, small positive
    /// f16 scales), and its dequantized values by ggml's dequantize_row_* in double.</summary>
    private static byte[] MakeWeight(DType type, int n, int k, Random rng, out double[] deq, out float[]? scales)
    {
        scales = null;
        deq = new double[(long)n * k];
        if (type == DType.I8)
        {
            var q = new byte[n * k];
            rng.NextBytes(q);
            scales = [.. Enumerable.Range(0, n).Select(_ => 0.001f + 0.01f * (float)rng.NextDouble())];
            for (int i = 0; i < q.Length; i++) deq[i] = (sbyte)q[i] * (double)scales[i / k];
            return q;
        }
        int bb = type.BlockBytes(), bs = type.BlockSize();
        var bytes = new byte[type.ByteCount((long)n * k)];
        for (int blk = 0; blk < n * k / bs; blk++)
        {
            var b = bytes.AsSpan(blk * bb, bb);
            rng.NextBytes(b);
            float s = 0.002f + 0.01f * (float)rng.NextDouble(), s2 = 0.01f * (float)rng.NextDouble();
            if (type == DType.Q6_K) Half(b, 208, s);
            else { Half(b, 0, s); if (type is DType.Q4_1 or DType.Q4_K) Half(b, 2, type == DType.Q4_1 ? -8 * s : s2); }
            var v = DequantizeBlock(type, b);
            for (int i = 0; i < bs; i++) deq[(long)blk * bs + i] = v[i];
        }
        return bytes;
    }

    private static void Half(Span<byte> b, int at, float v) => BitConverter.TryWriteBytes(b[at..], (Half)v);

    private static double H(ReadOnlySpan<byte> b, int at) => (double)BitConverter.ToHalf(b[at..]);

    private static double[] DequantizeBlock(DType type, ReadOnlySpan<byte> b)
    {
        if (type == DType.Q8_0)
        {
            var y = new double[32];
            for (int i = 0; i < 32; i++) y[i] = (sbyte)b[2 + i] * H(b, 0);
            return y;
        }
        if (type is DType.Q4_0 or DType.Q4_1)
        {
            var y = new double[32];
            int at = type == DType.Q4_0 ? 2 : 4;
            double d = H(b, 0), off = type == DType.Q4_0 ? -8 * d : H(b, 2);
            for (int j = 0; j < 16; j++) { y[j] = (b[at + j] & 15) * d + off; y[j + 16] = (b[at + j] >> 4) * d + off; }
            return y;
        }
        if (type == DType.Q4_K)
        {
            var y = new double[256];
            double d = H(b, 0), dmin = H(b, 2);
            for (int g = 0; g < 4; g++)
            {
                ScaleMin(2 * g, b[4..], out int sc1, out int m1);
                ScaleMin(2 * g + 1, b[4..], out int sc2, out int m2);
                for (int l = 0; l < 32; l++)
                {
                    y[64 * g + l] = d * sc1 * (b[16 + 32 * g + l] & 15) - dmin * m1;
                    y[64 * g + 32 + l] = d * sc2 * (b[16 + 32 * g + l] >> 4) - dmin * m2;
                }
            }
            return y;
        }
        var z = new double[256]; // Q6_K
        double d6 = H(b, 208);
        for (int h = 0; h < 2; h++)
        {
            var ql = b[(64 * h)..]; var qh = b[(128 + 32 * h)..]; var sc = b[(192 + 8 * h)..];
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                z[128 * h + l] = d6 * (sbyte)sc[s] * (((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32);
                z[128 * h + l + 32] = d6 * (sbyte)sc[s + 2] * (((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
                z[128 * h + l + 64] = d6 * (sbyte)sc[s + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                z[128 * h + l + 96] = d6 * (sbyte)sc[s + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        return z;
    }

    private static void ScaleMin(int j, ReadOnlySpan<byte> q, out int d, out int m)
    {
        if (j < 4) { d = q[j] & 63; m = q[j + 4] & 63; }
        else { d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
    }
}
