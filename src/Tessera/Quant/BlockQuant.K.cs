namespace Tessera.Quant;

// The K-quant formats, ported from ggml/src/ggml-quants.c (llama.cpp): quantize_row_q4_K_ref with make_qkx2_quants,
// quantize_row_q6_K_ref with make_qx_quants, quantize_row_q8_K_ref, and their dequantize_row_* functions.
// Every float expression keeps ggml's operand order and f32 precision so the outputs match ggml's bit for bit.
public static unsafe partial class BlockQuant
{
    private const float GroupMaxEps = 1e-15f; // ggml's GROUP_MAX_EPS

    /// <summary>ggml's <c>nearest_int</c>: round half to even (its 1.5*2^23 trick equals rint for |x| &lt; 2^22).</summary>
    private static int NearestInt(float f) => (int)MathF.Round(f, MidpointRounding.ToEven);

    /// <summary>ggml's <c>get_scale_min_k4</c>: the 6-bit scale and minimum of sub-block <paramref name="j"/> (0..7)
    /// from the 12 packed bytes of a Q4_K (or Q5_K) block.</summary>
    public static void GetScaleMinK4(int j, ReadOnlySpan<byte> q, out byte d, out byte m)
    {
        if (j < 4)
        {
            d = (byte)(q[j] & 63);
            m = (byte)(q[j + 4] & 63);
        }
        else
        {
            d = (byte)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
            m = (byte)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
        }
    }

    // ---- Q4_K ------------------------------------------------------------------------------------------------------

    /// <summary>ggml's <c>quantize_row_q4_K_ref</c>: each 32-element sub-block gets an affine fit (scale, min) by
    /// <c>make_qkx2_quants</c>, then scales and mins are quantized to 6 bits against the super-block maxima.</summary>
    public static void QuantizeQ4_K(ReadOnlySpan<float> xAll, Span<BlockQ4_K> y)
    {
        const int qkK = QuantBlocks.QK_K;
        Span<byte> L = stackalloc byte[qkK];
        Span<byte> laux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[qkK / 32];
        Span<float> scales = stackalloc float[qkK / 32];
        Span<byte> sc12 = stackalloc byte[QuantBlocks.KScaleSize];

        for (int i = 0; i < y.Length; i++)
        {
            var x = xAll.Slice(i * qkK, qkK);
            float maxScale = 0, maxMin = 0; // as we are deducting the min, scales are always positive
            for (int j = 0; j < qkK / 32; j++)
            {
                var xs = x.Slice(32 * j, 32);
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += xs[l] * xs[l];
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(xs[l]);
                scales[j] = MakeQkx2Quants(32, 15, xs, weights, L.Slice(32 * j, 32), out mins[j], laux, -1f, 0.1f, 20, false);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }

            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            sc12.Clear();
            for (int j = 0; j < qkK / 32; j++)
            {
                byte ls = (byte)NearestInt(invScale * scales[j]);
                byte lm = (byte)NearestInt(invMin * mins[j]);
                ls = Math.Min((byte)63, ls);
                lm = Math.Min((byte)63, lm);
                if (j < 4)
                {
                    sc12[j] = ls;
                    sc12[j + 4] = lm;
                }
                else
                {
                    sc12[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                    sc12[j - 4] |= (byte)((ls >> 4) << 6);
                    sc12[j - 0] |= (byte)((lm >> 4) << 6);
                }
            }
            ref var b = ref y[i];
            for (int k = 0; k < QuantBlocks.KScaleSize; k++) b.Scales[k] = sc12[k];
            b.D = (Half)(maxScale / 63f);
            b.DMin = (Half)(maxMin / 63f);

            for (int j = 0; j < qkK / 32; j++)
            {
                GetScaleMinK4(j, sc12, out byte sc, out byte m);
                float d = (float)b.D * sc;
                if (d == 0) continue;
                float dm = (float)b.DMin * m;
                for (int ii = 0; ii < 32; ii++)
                {
                    int l = NearestInt((x[32 * j + ii] + dm) / d);
                    L[32 * j + ii] = (byte)Math.Max(0, Math.Min(15, l));
                }
            }

            int q = 0;
            for (int j = 0; j < qkK; j += 64)
            {
                for (int l = 0; l < 32; l++) b.Qs[q + l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
                q += 32;
            }
        }
    }

    /// <summary>ggml's <c>dequantize_row_q4_K</c>.</summary>
    public static void DequantizeQ4_K(ReadOnlySpan<BlockQ4_K> x, Span<float> y)
    {
        int o = 0;
        Span<byte> scales = stackalloc byte[QuantBlocks.KScaleSize];
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly var b = ref x[i];
            for (int k = 0; k < QuantBlocks.KScaleSize; k++) scales[k] = b.Scales[k];
            float d = (float)b.D, min = (float)b.DMin;
            int q = 0, isb = 0;
            for (int j = 0; j < QuantBlocks.QK_K; j += 64)
            {
                GetScaleMinK4(isb + 0, scales, out byte sc, out byte m);
                float d1 = d * sc, m1 = min * m;
                GetScaleMinK4(isb + 1, scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) y[o++] = d1 * (b.Qs[q + l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) y[o++] = d2 * (b.Qs[q + l] >> 4) - m2;
                q += 32; isb += 2;
            }
        }
    }

    // ---- Q6_K ------------------------------------------------------------------------------------------------------

    /// <summary>ggml's <c>quantize_row_q6_K_ref</c>: each 16-element sub-block gets a signed scale by
    /// <c>make_qx_quants(16, 32, ..., rmse_type 1)</c>; the scales are quantized to int8 against the largest.</summary>
    public static void QuantizeQ6_K(ReadOnlySpan<float> xAll, Span<BlockQ6_K> y)
    {
        const int qkK = QuantBlocks.QK_K;
        Span<sbyte> L = stackalloc sbyte[qkK];
        Span<float> scales = stackalloc float[qkK / 16];

        for (int i = 0; i < y.Length; i++)
        {
            var x = xAll.Slice(i * qkK, qkK);
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < qkK / 16; ib++)
            {
                float scale = MakeQxQuants(16, 32, x.Slice(16 * ib, 16), L.Slice(16 * ib, 16), 1);
                scales[ib] = scale;
                float abs = MathF.Abs(scale);
                if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scale; }
            }

            ref var b = ref y[i];
            if (maxAbsScale < GroupMaxEps)
            {
                b = default;
                b.D = (Half)0f;
                continue;
            }

            float iscale = -128f / maxScale;
            b.D = (Half)(1 / iscale);
            for (int ib = 0; ib < qkK / 16; ib++) b.Scales[ib] = (sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));

            for (int j = 0; j < qkK / 16; j++)
            {
                float d = (float)b.D * b.Scales[j];
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt(x[16 * j + ii] / d);
                    l = Math.Max(-32, Math.Min(31, l));
                    L[16 * j + ii] = (sbyte)(l + 32);
                }
            }

            int ql = 0, qh = 0;
            for (int j = 0; j < qkK; j += 128)
            {
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                    b.Ql[ql + l + 0] = (byte)(q1 | (q3 << 4));
                    b.Ql[ql + l + 32] = (byte)(q2 | (q4 << 4));
                    b.Qh[qh + l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
                ql += 64; qh += 32;
            }
        }
    }

    /// <summary>ggml's <c>dequantize_row_q6_K</c>.</summary>
    public static void DequantizeQ6_K(ReadOnlySpan<BlockQ6_K> x, Span<float> yAll)
    {
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly var b = ref x[i];
            float d = (float)b.D;
            var y = yAll.Slice(i * QuantBlocks.QK_K, QuantBlocks.QK_K);
            int ql = 0, qh = 0, sc = 0, yo = 0;
            for (int n = 0; n < QuantBlocks.QK_K; n += 128)
            {
                for (int l = 0; l < 32; l++)
                {
                    int isb = l / 16;
                    int h = b.Qh[qh + l];
                    sbyte q1 = (sbyte)(((b.Ql[ql + l + 0] & 0xF) | (((h >> 0) & 3) << 4)) - 32);
                    sbyte q2 = (sbyte)(((b.Ql[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32);
                    sbyte q3 = (sbyte)(((b.Ql[ql + l + 0] >> 4) | (((h >> 4) & 3) << 4)) - 32);
                    sbyte q4 = (sbyte)(((b.Ql[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32);
                    y[yo + l + 0] = d * b.Scales[sc + isb + 0] * q1;
                    y[yo + l + 32] = d * b.Scales[sc + isb + 2] * q2;
                    y[yo + l + 64] = d * b.Scales[sc + isb + 4] * q3;
                    y[yo + l + 96] = d * b.Scales[sc + isb + 6] * q4;
                }
                yo += 128; ql += 64; qh += 32; sc += 8;
            }
        }
    }

    // ---- Q8_K ------------------------------------------------------------------------------------------------------

    /// <summary>ggml's <c>quantize_row_q8_K_ref</c>: the element of largest magnitude, with its sign, maps to -127,
    /// q = min(127, nearest_int(x * -127 / max)), d = 1 / iscale, plus the sum of each 16 quants.
    /// (An all-zero block gets zero sums too; ggml leaves them unwritten.)</summary>
    public static void QuantizeQ8_K(ReadOnlySpan<float> xAll, Span<BlockQ8_K> y)
    {
        const int qkK = QuantBlocks.QK_K;
        for (int i = 0; i < y.Length; i++)
        {
            var x = xAll.Slice(i * qkK, qkK);
            float max = 0, amax = 0;
            for (int j = 0; j < qkK; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax) { amax = ax; max = x[j]; }
            }
            ref var b = ref y[i];
            if (amax == 0)
            {
                b = default;
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < qkK; j++) b.Qs[j] = (sbyte)Math.Min(127, NearestInt(iscale * x[j]));
            for (int j = 0; j < qkK / 16; j++)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ii++) sum += b.Qs[j * 16 + ii];
                b.BSums[j] = (short)sum;
            }
            b.D = 1 / iscale;
        }
    }

    /// <summary>ggml's <c>dequantize_row_q8_K</c>.</summary>
    public static void DequantizeQ8_K(ReadOnlySpan<BlockQ8_K> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly var b = ref x[i];
            for (int j = 0; j < QuantBlocks.QK_K; j++) y[i * QuantBlocks.QK_K + j] = b.D * b.Qs[j];
        }
    }
}
