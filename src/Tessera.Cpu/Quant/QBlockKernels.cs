using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>A compile-time row count: the kernels are generic over it so the JIT specialises away unused rows.</summary>
internal interface IRows { static abstract int N { get; } }
internal struct Rows1 : IRows { public static int N => 1; }
internal struct Rows2 : IRows { public static int N => 2; }
internal struct Rows3 : IRows { public static int N => 3; }
internal struct Rows4 : IRows { public static int N => 4; }
internal struct Rows5 : IRows { public static int N => 5; }
internal struct Rows6 : IRows { public static int N => 6; }
internal struct Rows7 : IRows { public static int N => 7; }
internal struct Rows8 : IRows { public static int N => 8; }

/// <summary>One GGML 32-element block format read in place (no repack): its weights as 32 unsigned bytes in element
/// order, its scale, and how the offset of those bytes is undone. The dot of the unsigned bytes u with the activation
/// block q is exact (vpdpbusd), and the block's true contribution is dw * dq * dot(u, q) + Coef * Offset * dq * sum(q).</summary>
internal unsafe interface IQ32Block
{
    static abstract int Bytes { get; }
    /// <summary>Multiplies Coef * dq * sum(q): -8 for Q4_0 (nibble - 8), -128 for Q8_0 (w + 128), 1 for Q4_1 (+ m).</summary>
    static abstract float Offset { get; }
    static abstract Vector256<byte> Unpack(byte* b);
    static abstract float Scale(byte* b);
    static abstract float Coef(byte* b);
    static abstract int Weight(byte* b, int i);
}

internal unsafe struct Q8_0Block : IQ32Block
{
    public static int Bytes => 34;
    public static float Offset => -128;
    public static Vector256<byte> Unpack(byte* b) => Vector256.Load(b + 2) ^ Vector256.Create((byte)0x80);
    public static float Scale(byte* b) => F16.ToF32(*(ushort*)b);
    public static float Coef(byte* b) => F16.ToF32(*(ushort*)b);
    public static int Weight(byte* b, int i) => ((sbyte*)b)[2 + i] + 128;
}

internal unsafe struct Q4_0Block : IQ32Block
{
    public static int Bytes => 18;
    public static float Offset => -8;
    public static Vector256<byte> Unpack(byte* b) => Nibbles(b + 2);
    public static float Scale(byte* b) => F16.ToF32(*(ushort*)b);
    public static float Coef(byte* b) => F16.ToF32(*(ushort*)b);
    public static int Weight(byte* b, int i) => i < 16 ? b[2 + i] & 15 : b[2 + i - 16] >> 4;

    /// <summary>16 bytes of nibble pairs -> 32 bytes: element j &lt; 16 is the low nibble of byte j, j + 16 the high.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles(byte* p)
    {
        var v = Vector128.Load(p);
        var m = Vector128.Create((byte)0x0F);
        return Vector256.Create(v & m, (v.AsUInt16() >> 4).AsByte() & m);
    }
}

internal unsafe struct Q4_1Block : IQ32Block
{
    public static int Bytes => 20;
    public static float Offset => 1;
    public static Vector256<byte> Unpack(byte* b) => Q4_0Block.Nibbles(b + 4);
    public static float Scale(byte* b) => F16.ToF32(*(ushort*)b);
    public static float Coef(byte* b) => F16.ToF32(*(ushort*)(b + 2));
    public static int Weight(byte* b, int i) => i < 16 ? b[4 + i] & 15 : b[4 + i - 16] >> 4;
}

/// <summary>f16 -> f32 for block scales, branch-free: the exponent is rebiased by a multiply, which also turns f16
/// subnormals into the right f32 value. (Inf/NaN scales come out as large finite values.)</summary>
internal static class F16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToF32(ushort h)
    {
        float mag = BitConverter.UInt32BitsToSingle((uint)(h & 0x7FFF) << 13) * 5.192296858534828e33f; // 2^112
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(mag) | ((uint)(h & 0x8000) << 16));
    }
}

/// <summary>Dot products of one Q8_0/Q4_0/Q4_1 weight row (nb blocks, as stored) with TR.N activation rows quantized
/// in 32-blocks. Per block and row: one vpdpbusd (32 products), a convert and an FMA with the product of the two
/// scales; two accumulators per row (even and odd blocks) hide the FMA latency on the decode path.</summary>
internal static unsafe class QBlockKernels
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotRows<TB, TR>(byte* w, int nb, QuantizedRows xq, int r0, float* dst, long dstRowStride)
        where TB : struct, IQ32Block where TR : struct, IRows
    {
        if (!(AvxVnni.IsSupported && Fma.IsSupported)) { Scalar<TB, TR>(w, nb, xq, r0, dst, dstRowStride); return; }
        int n = TR.N, groups = xq.Groups;
        sbyte* x0 = xq.Row(r0), x1 = n > 1 ? xq.Row(r0 + 1) : x0, x2 = n > 2 ? xq.Row(r0 + 2) : x0, x3 = n > 3 ? xq.Row(r0 + 3) : x0;
        float* d0 = xq.D + (long)r0 * groups, d1 = d0 + groups, d2 = d1 + groups, d3 = d2 + groups;
        float* s0 = xq.S + (long)r0 * groups, s1 = s0 + groups, s2 = s1 + groups, s3 = s2 + groups;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        int bb = 0;
        for (; bb + 2 <= nb; bb += 2)
        {
            byte* p = w + (long)bb * TB.Bytes, p2 = p + TB.Bytes;
            var u = TB.Unpack(p); var u2 = TB.Unpack(p2);
            float dw = TB.Scale(p), cw = TB.Coef(p), dw2 = TB.Scale(p2), cw2 = TB.Coef(p2);
            int o = bb * 32;
            a0 = Step(a0, u, x0 + o, dw * d0[bb]); b0 = Step(b0, u2, x0 + o + 32, dw2 * d0[bb + 1]); c0 += cw * s0[bb] + cw2 * s0[bb + 1];
            if (n > 1) { a1 = Step(a1, u, x1 + o, dw * d1[bb]); b1 = Step(b1, u2, x1 + o + 32, dw2 * d1[bb + 1]); c1 += cw * s1[bb] + cw2 * s1[bb + 1]; }
            if (n > 2) { a2 = Step(a2, u, x2 + o, dw * d2[bb]); b2 = Step(b2, u2, x2 + o + 32, dw2 * d2[bb + 1]); c2 += cw * s2[bb] + cw2 * s2[bb + 1]; }
            if (n > 3) { a3 = Step(a3, u, x3 + o, dw * d3[bb]); b3 = Step(b3, u2, x3 + o + 32, dw2 * d3[bb + 1]); c3 += cw * s3[bb] + cw2 * s3[bb + 1]; }
        }
        if (bb < nb)
        {
            byte* p = w + (long)bb * TB.Bytes;
            var u = TB.Unpack(p);
            float dw = TB.Scale(p), cw = TB.Coef(p);
            int o = bb * 32;
            a0 = Step(a0, u, x0 + o, dw * d0[bb]); c0 += cw * s0[bb];
            if (n > 1) { a1 = Step(a1, u, x1 + o, dw * d1[bb]); c1 += cw * s1[bb]; }
            if (n > 2) { a2 = Step(a2, u, x2 + o, dw * d2[bb]); c2 += cw * s2[bb]; }
            if (n > 3) { a3 = Step(a3, u, x3 + o, dw * d3[bb]); c3 += cw * s3[bb]; }
        }
        float off = TB.Offset;
        dst[0] = Vector256.Sum(a0 + b0) + off * c0;
        if (n > 1) dst[dstRowStride] = Vector256.Sum(a1 + b1) + off * c1;
        if (n > 2) dst[2 * dstRowStride] = Vector256.Sum(a2 + b2) + off * c2;
        if (n > 3) dst[3 * dstRowStride] = Vector256.Sum(a3 + b3) + off * c3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> acc, Vector256<byte> u, sbyte* x, float scale) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, Vector256.Load(x))),
            Vector256.Create(scale), acc);

    private static void Scalar<TB, TR>(byte* w, int nb, QuantizedRows xq, int r0, float* dst, long dstRowStride)
        where TB : struct, IQ32Block where TR : struct, IRows
    {
        for (int r = 0; r < TR.N; r++)
        {
            sbyte* x = xq.Row(r0 + r);
            float* d = xq.D + (long)(r0 + r) * xq.Groups, s = xq.S + (long)(r0 + r) * xq.Groups;
            float acc = 0, c = 0;
            for (int bb = 0; bb < nb; bb++)
            {
                byte* p = w + (long)bb * TB.Bytes;
                int dot = 0;
                for (int i = 0; i < 32; i++) dot += TB.Weight(p, i) * x[bb * 32 + i];
                acc += TB.Scale(p) * d[bb] * dot;
                c += TB.Coef(p) * s[bb];
            }
            dst[r * dstRowStride] = acc + TB.Offset * c;
        }
    }
}
