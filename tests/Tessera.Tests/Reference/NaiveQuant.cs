using Tessera.Cpu.Quant;

namespace Tessera.Tests.Reference;

/// <summary>GGUF block formats written out naively, for the quantized-matmul rows: ggml's quantize_row_*_ref to make
/// valid weights, dequantize_row_* in double to read them, and the activation quantization every backend applies
/// before a quantized product (per row for I8 weights, per 32-block for Q8_0/Q4_0/Q4_1, per 256-block for Q4_K/Q6_K;
/// the CUDA backend's is bit-identical to the CPU's, whose <see cref="QuantizedRows"/> is used here).</summary>
public static unsafe class NaiveQuant
{
    /// <summary>The bytes of an [n, k] weight of a block type: Q8_0/Q4_0/Q4_1 quantized from uniform values in [-1, 1),
    /// Q4_K/Q6_K random valid blocks (every bit of scales and quants used, small positive f16 scales).</summary>
    public static double[] Blocks(DType dt, int n, int k, Random rng)
    {
        var bytes = new byte[dt.ByteCount((long)n * k)];
        int bb = dt.BlockBytes(), bs = dt.BlockSize();
        for (int blk = 0; blk < bytes.Length / bb; blk++)
        {
            var b = bytes.AsSpan(blk * bb, bb);
            if (dt is DType.Q4_K or DType.Q6_K)
            {
                rng.NextBytes(b);
                if (dt == DType.Q4_K) { Half(b, 0, 0.002f + 0.01f * (float)rng.NextDouble()); Half(b, 2, 0.01f * (float)rng.NextDouble()); }
                else Half(b, 208, 0.001f + 0.01f * (float)rng.NextDouble());
            }
            else QuantizeBlock(dt, [.. Enumerable.Range(0, bs).Select(_ => (float)(rng.NextDouble() * 2 - 1))], b);
        }
        return [.. bytes.Select(v => (double)v)];
    }

    /// <summary>The values of an [n, k] block-type weight stored in <paramref name="bytes"/>.</summary>
    public static double[] Dequantize(DType dt, ReadOnlySpan<byte> bytes, long elements)
    {
        int bb = dt.BlockBytes(), bs = dt.BlockSize();
        var y = new double[elements];
        for (long blk = 0; blk < elements / bs; blk++)
            DequantizeBlock(dt, bytes.Slice((int)(blk * bb), bb)).CopyTo(y, blk * bs);
        return y;
    }

    /// <summary>x [m, k] as the backend quantizes it for a weight of type <paramref name="weight"/>, dequantized:
    /// q * d per row or block.</summary>
    public static double[] Activations(DType weight, double[] x, int m, int k)
    {
        var kind = weight == DType.I8 ? ActKind.Row : weight is DType.Q4_K or DType.Q6_K ? ActKind.Block256 : ActKind.Block32;
        var xf = x.Select(v => (float)v).ToArray();
        using var xq = new QuantizedRows(kind, m, k);
        fixed (float* px = xf) xq.Quantize(px, 0, m);
        var y = new double[m * k];
        for (int r = 0; r < m; r++)
            for (int i = 0; i < k; i++) y[r * k + i] = xq.Row(r)[i] * xq.D[(long)r * xq.Groups + i / xq.Group];
        return y;
    }

    private static void Half(Span<byte> b, int at, float v) => BitConverter.TryWriteBytes(b[at..], (Half)v);

    private static float H(ReadOnlySpan<byte> b, int at) => (float)BitConverter.ToHalf(b[at..]);

    /// <summary>ggml's quantize_row_q8_0_ref / q4_0_ref / q4_1_ref for one block.</summary>
    private static void QuantizeBlock(DType dt, float[] x, Span<byte> b)
    {
        if (dt == DType.Q8_0)
        {
            float amax = x.Max(MathF.Abs), d = amax / 127, id = d == 0 ? 0 : 1 / d;
            Half(b, 0, d);
            for (int i = 0; i < 32; i++) b[2 + i] = (byte)(sbyte)MathF.Round(x[i] * id);
        }
        else if (dt == DType.Q4_0)
        {
            float max = x.MaxBy(MathF.Abs), d = max / -8, id = d == 0 ? 0 : 1 / d;
            Half(b, 0, d);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)(x[j] * id + 8.5f)), hi = Math.Min(15, (int)(x[j + 16] * id + 8.5f));
                b[2 + j] = (byte)(lo | (hi << 4));
            }
        }
        else if (dt == DType.Q4_1)
        {
            float min = x.Min(), max = x.Max(), d = (max - min) / 15, id = d == 0 ? 0 : 1 / d;
            Half(b, 0, d); Half(b, 2, min);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)((x[j] - min) * id + 0.5f)), hi = Math.Min(15, (int)((x[j + 16] - min) * id + 0.5f));
                b[4 + j] = (byte)(lo | (hi << 4));
            }
        }
        else throw new NotSupportedException($"no reference quantizer for {dt}");
    }

    /// <summary>ggml's dequantize_row_* for one block, in double.</summary>
    private static double[] DequantizeBlock(DType dt, ReadOnlySpan<byte> b)
    {
        switch (dt)
        {
            case DType.Q8_0: { var y = new double[32]; for (int i = 0; i < 32; i++) y[i] = (sbyte)b[2 + i] * (double)H(b, 0); return y; }
            case DType.Q4_0:
            {
                var y = new double[32]; double d = H(b, 0);
                for (int j = 0; j < 16; j++) { y[j] = ((b[2 + j] & 15) - 8) * d; y[j + 16] = ((b[2 + j] >> 4) - 8) * d; }
                return y;
            }
            case DType.Q4_1:
            {
                var y = new double[32]; double d = H(b, 0), mn = H(b, 2);
                for (int j = 0; j < 16; j++) { y[j] = (b[4 + j] & 15) * d + mn; y[j + 16] = (b[4 + j] >> 4) * d + mn; }
                return y;
            }
            case DType.Q4_K:
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
            case DType.Q6_K:
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
            default: throw new NotSupportedException($"no reference dequantizer for {dt}");
        }
    }

    private static void ScaleMin(int j, ReadOnlySpan<byte> q, out int d, out int m)
    {
        if (j < 4) { d = q[j] & 63; m = q[j + 4] & 63; }
        else { d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
    }
}
