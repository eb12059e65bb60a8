using System.Runtime.InteropServices;

namespace Tessera.Quant;

/// <summary>Reference quantization and dequantization of the GGUF block formats, ported from ggml's
/// <c>ggml/src/ggml-quants.c</c> (llama.cpp; the <c>quantize_row_*_ref</c> and <c>dequantize_row_*</c> functions)
/// so that the bytes we write are the bytes ggml writes and the floats we read are the floats ggml reads.
/// These are the scalar references that the SIMD kernels are tested against, not the fast path.</summary>
public static unsafe partial class BlockQuant
{
    /// <summary>Whether <see cref="Quantize"/> can produce <paramref name="type"/>.</summary>
    public static bool CanQuantize(DType type) =>
        type is DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q4_K or DType.Q6_K or DType.Q8_K or DType.F32 or DType.F16 or DType.BF16;

    /// <summary>Whether <see cref="Dequantize"/> can read <paramref name="type"/>.</summary>
    public static bool CanDequantize(DType type) => CanQuantize(type);

    /// <summary>Quantizes <paramref name="src"/> (a whole number of blocks) into <paramref name="dst"/>, which must
    /// hold exactly <c>type.ByteCount(src.Length)</c> bytes. F32, F16 and BF16 are plain conversions (round to nearest even).</summary>
    public static void Quantize(DType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckSizes(type, src.Length, dst.Length, "Quantize");
        switch (type)
        {
            case DType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case DType.F16:
                {
                    var h = MemoryMarshal.Cast<byte, Half>(dst);
                    for (int i = 0; i < src.Length; i++) h[i] = (Half)src[i];
                    break;
                }
            case DType.BF16:
                {
                    var h = MemoryMarshal.Cast<byte, ushort>(dst);
                    for (int i = 0; i < src.Length; i++) h[i] = BFloat16.Round(src[i]);
                    break;
                }
            case DType.Q8_0: QuantizeQ8_0(src, MemoryMarshal.Cast<byte, BlockQ8_0>(dst)); break;
            case DType.Q4_0: QuantizeQ4_0(src, MemoryMarshal.Cast<byte, BlockQ4_0>(dst)); break;
            case DType.Q4_1: QuantizeQ4_1(src, MemoryMarshal.Cast<byte, BlockQ4_1>(dst)); break;
            case DType.Q4_K: QuantizeQ4_K(src, MemoryMarshal.Cast<byte, BlockQ4_K>(dst)); break;
            case DType.Q6_K: QuantizeQ6_K(src, MemoryMarshal.Cast<byte, BlockQ6_K>(dst)); break;
            case DType.Q8_K: QuantizeQ8_K(src, MemoryMarshal.Cast<byte, BlockQ8_K>(dst)); break;
            default: throw new TesseraException($"Quantize: no quantizer for {type.Name()}");
        }
    }

    /// <summary>Dequantizes <paramref name="src"/> (exactly <c>type.ByteCount(dst.Length)</c> bytes) into
    /// <paramref name="dst"/>, computing each value with the same float operations, in the same order, as ggml's
    /// <c>dequantize_row_*</c>, so the results are bit for bit ggml's.</summary>
    public static void Dequantize(DType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        CheckSizes(type, dst.Length, src.Length, "Dequantize");
        switch (type)
        {
            case DType.F32: src.CopyTo(MemoryMarshal.AsBytes(dst)); break;
            case DType.F16:
                {
                    var h = MemoryMarshal.Cast<byte, Half>(src);
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)h[i];
                    break;
                }
            case DType.BF16:
                {
                    var h = MemoryMarshal.Cast<byte, ushort>(src);
                    for (int i = 0; i < dst.Length; i++) dst[i] = BFloat16.ToSingle(h[i]);
                    break;
                }
            case DType.Q8_0: DequantizeQ8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(src), dst); break;
            case DType.Q4_0: DequantizeQ4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(src), dst); break;
            case DType.Q4_1: DequantizeQ4_1(MemoryMarshal.Cast<byte, BlockQ4_1>(src), dst); break;
            case DType.Q4_K: DequantizeQ4_K(MemoryMarshal.Cast<byte, BlockQ4_K>(src), dst); break;
            case DType.Q6_K: DequantizeQ6_K(MemoryMarshal.Cast<byte, BlockQ6_K>(src), dst); break;
            case DType.Q8_K: DequantizeQ8_K(MemoryMarshal.Cast<byte, BlockQ8_K>(src), dst); break;
            default: throw new TesseraException($"Dequantize: no dequantizer for {type.Name()}");
        }
    }

    private static void CheckSizes(DType type, int elements, int bytes, string op)
    {
        int bs = type.BlockSize();
        if (elements % bs != 0)
            throw new TesseraException($"{op}: {elements} elements is not a whole number of {bs}-element {type.Name()} blocks");
        long need = type.ByteCount(elements);
        if (need != bytes)
            throw new TesseraException($"{op}: {elements} elements of {type.Name()} take {need} bytes, the buffer has {bytes}");
    }

    // ---- Q8_0: quantize_row_q8_0_ref / dequantize_row_q8_0 --------------------------------------------------------

    /// <summary>ggml's <c>quantize_row_q8_0_ref</c>: d = max|x| / 127, q = roundf(x / d) (half away from zero).</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> y)
    {
        const int qk = QuantBlocks.QK;
        for (int i = 0; i < y.Length; i++)
        {
            var xb = x.Slice(i * qk, qk);
            float amax = 0;
            for (int j = 0; j < qk; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var b = ref y[i];
            b.D = (Half)d;
            for (int j = 0; j < qk; j++) b.Qs[j] = (sbyte)MathF.Round(xb[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>ggml's <c>dequantize_row_q8_0</c>.</summary>
    public static void DequantizeQ8_0(ReadOnlySpan<BlockQ8_0> x, Span<float> y)
    {
        const int qk = QuantBlocks.QK;
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly var b = ref x[i];
            float d = (float)b.D;
            for (int j = 0; j < qk; j++) y[i * qk + j] = b.Qs[j] * d;
        }
    }

    // ---- Q4_0: quantize_row_q4_0_ref / dequantize_row_q4_0 --------------------------------------------------------

    /// <summary>ggml's <c>quantize_row_q4_0_ref</c>: the element of largest magnitude, with its sign, maps to -8
    /// (d = max / -8), q = min(15, trunc(x / d + 8.5)).</summary>
    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<BlockQ4_0> y)
    {
        const int qk = QuantBlocks.QK;
        for (int i = 0; i < y.Length; i++)
        {
            var xb = x.Slice(i * qk, qk);
            float amax = 0, max = 0;
            for (int j = 0; j < qk; j++)
            {
                float v = xb[j];
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var b = ref y[i];
            b.D = (Half)d;
            for (int j = 0; j < qk / 2; j++)
            {
                float x0 = xb[j] * id, x1 = xb[qk / 2 + j] * id;
                int xi0 = Math.Min(15, TruncToSByte(x0 + 8.5f));
                int xi1 = Math.Min(15, TruncToSByte(x1 + 8.5f));
                b.Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    /// <summary>ggml's <c>dequantize_row_q4_0</c>.</summary>
    public static void DequantizeQ4_0(ReadOnlySpan<BlockQ4_0> x, Span<float> y)
    {
        const int qk = QuantBlocks.QK;
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly var b = ref x[i];
            float d = (float)b.D;
            for (int j = 0; j < qk / 2; j++)
            {
                int x0 = (b.Qs[j] & 0x0F) - 8, x1 = (b.Qs[j] >> 4) - 8;
                y[i * qk + j] = x0 * d;
                y[i * qk + j + qk / 2] = x1 * d;
            }
        }
    }

    // ---- Q4_1: quantize_row_q4_1_ref / dequantize_row_q4_1 --------------------------------------------------------

    /// <summary>ggml's <c>quantize_row_q4_1_ref</c>: m = min, d = (max - min) / 15, q = min(15, trunc((x - m) / d + 0.5)).</summary>
    public static void QuantizeQ4_1(ReadOnlySpan<float> x, Span<BlockQ4_1> y)
    {
        const int qk = QuantBlocks.QK;
        for (int i = 0; i < y.Length; i++)
        {
            var xb = x.Slice(i * qk, qk);
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < qk; j++)
            {
                float v = xb[j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / ((1 << 4) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var b = ref y[i];
            b.D = (Half)d;
            b.M = (Half)min;
            for (int j = 0; j < qk / 2; j++)
            {
                float x0 = (xb[j] - min) * id, x1 = (xb[qk / 2 + j] - min) * id;
                int xi0 = Math.Min(15, TruncToSByte(x0 + 0.5f));
                int xi1 = Math.Min(15, TruncToSByte(x1 + 0.5f));
                b.Qs[j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    /// <summary>ggml's <c>dequantize_row_q4_1</c>.</summary>
    public static void DequantizeQ4_1(ReadOnlySpan<BlockQ4_1> x, Span<float> y)
    {
        const int qk = QuantBlocks.QK;
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly var b = ref x[i];
            float d = (float)b.D, m = (float)b.M;
            for (int j = 0; j < qk / 2; j++)
            {
                int x0 = b.Qs[j] & 0x0F, x1 = b.Qs[j] >> 4;
                y[i * qk + j] = x0 * d + m;
                y[i * qk + j + qk / 2] = x1 * d + m;
            }
        }
    }

    /// <summary>C's <c>(int8_t)f</c> for the in-range values the quantizers produce (truncation toward zero).</summary>
    private static int TruncToSByte(float f) => (sbyte)(int)f;
}
