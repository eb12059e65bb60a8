using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>Dot products of one 8-row group of a <see cref="PackedQ32"/> weight with TR.N activation rows quantized
/// in 32-blocks (AVX-VNNI only; callers check <see cref="Supported"/>). Per block and activation row: 8 vpdpbusd of
/// a 32-byte weight vector (8 rows x 4 k) with 4 broadcast activation bytes, the offset of the unsigned weights
/// taken off in integers (exact), one convert and one FMA with the 8 rows' scales times the activation's scale.
/// The float accumulator's 8 lanes are the group's 8 outputs: no horizontal sums.</summary>
internal static unsafe class PackedQ32Kernels
{
    /// <summary>How far ahead the decode kernels prefetch, in blocks (4 KB of Q4_0, 8 KB of Q8_0 quants): with
    /// the hardware prefetcher alone one thread read 1x4096x32000 weights at 52-66% of a plain stream read, with
    /// this 88-98%.</summary>
    private const int PrefetchBlocks = 32;

    public static bool Supported => AvxVnni.IsSupported && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>dst[i * dstRowStride + c] = dot(activation row r0 + i, weight row 8g + c) for i &lt; TR.N, c &lt; cols.</summary>
    public static void Group<TR>(PackedQ32 p, int g, QuantizedRows xq, int r0, float* dst, long dstRowStride, int cols)
        where TR : struct, IRows
    {
        var acc = stackalloc Vector256<float>[4];
        if (TR.N == 1) acc[0] = p.Type == DType.Q4_0 ? Q4Row(p.GroupQ(g), p.GroupD(g), p.Blocks, xq, r0) : Q8Row(p.GroupQ(g), p.GroupD(g), p.Blocks, xq, r0);
        else if (p.Type == DType.Q4_0) Q4<TR>(p.GroupQ(g), p.GroupD(g), p.Blocks, xq, r0, acc);
        else Q8<TR>(p.GroupQ(g), p.GroupD(g), p.Blocks, xq, r0, acc);
        for (int i = 0; i < TR.N; i++)
        {
            if (cols == PackedQ32.G) acc[i].Store(dst + i * dstRowStride);
            else for (int c = 0; c < cols; c++) dst[i * dstRowStride + c] = acc[i].GetElement(c);
        }
    }

    /// <summary>The decode kernel of Q4_0 (one activation row): the low and high nibbles feed two dependency chains,
    /// the high ones left in place (16 * nibble, from an xor) and divided by 16 after the sum, which is exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> Q4Row(byte* q, ushort* d, int nb, QuantizedRows xq, int r)
    {
        sbyte* x = xq.Row(r);
        float* dx = xq.D + (long)r * xq.Groups;
        int* sx = xq.QSum + (long)r * xq.Groups;
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a = default, a2 = default;
        for (int b = 0; b < nb; b++, q += 128, d += PackedQ32.G, x += 32)
        {
            Sse.Prefetch0(q + PrefetchBlocks * 128); Sse.Prefetch0(q + PrefetchBlocks * 128 + 64);
            var v0 = Vector256.Load(q); var v1 = Vector256.Load(q + 32); var v2 = Vector256.Load(q + 64); var v3 = Vector256.Load(q + 96);
            var l0 = v0 & mask; var l1 = v1 & mask; var l2 = v2 & mask; var l3 = v3 & mask;
            var lo = Dp(Dp(Dp(Dp(Vector256<int>.Zero, l0, x), l1, x + 4), l2, x + 8), l3, x + 12);
            var hi = Dp(Dp(Dp(Dp(Vector256<int>.Zero, v0 ^ l0, x + 16), v1 ^ l1, x + 20), v2 ^ l2, x + 24), v3 ^ l3, x + 28);
            var dot = lo + (hi >> 4) - Vector256.Create(sx[b] << 3);
            var t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Half8(d) * dx[b], a);
            a = a2; a2 = t; // two float chains
        }
        return a + a2;
    }

    /// <summary>The decode kernel of Q8_0 (one activation row), in two dependency chains (even and odd k steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> Q8Row(byte* q, ushort* d, int nb, QuantizedRows xq, int r)
    {
        sbyte* x = xq.Row(r);
        float* dx = xq.D + (long)r * xq.Groups;
        int* sx = xq.QSum + (long)r * xq.Groups;
        Vector256<float> a = default, a2 = default;
        for (int b = 0; b < nb; b++, q += 256, d += PackedQ32.G, x += 32)
        {
            byte* pf = q + PrefetchBlocks * 256;
            Sse.Prefetch0(pf); Sse.Prefetch0(pf + 64); Sse.Prefetch0(pf + 128); Sse.Prefetch0(pf + 192);
            var e = Dp(Dp(Dp(Dp(Vector256<int>.Zero, Vector256.Load(q), x), Vector256.Load(q + 64), x + 8), Vector256.Load(q + 128), x + 16), Vector256.Load(q + 192), x + 24);
            var o = Dp(Dp(Dp(Dp(Vector256<int>.Zero, Vector256.Load(q + 32), x + 4), Vector256.Load(q + 96), x + 12), Vector256.Load(q + 160), x + 20), Vector256.Load(q + 224), x + 28);
            var dot = e + o - Vector256.Create(sx[b] << 7);
            var t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Half8(d) * dx[b], a);
            a = a2; a2 = t;
        }
        return a + a2;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4<TR>(byte* q, ushort* d, int nb, QuantizedRows xq, int r0, Vector256<float>* acc) where TR : struct, IRows
    {
        int n = TR.N, groups = xq.Groups;
        sbyte* x0 = xq.Row(r0), x1 = n > 1 ? xq.Row(r0 + 1) : x0, x2 = n > 2 ? xq.Row(r0 + 2) : x0, x3 = n > 3 ? xq.Row(r0 + 3) : x0;
        float* dx0 = xq.D + (long)r0 * groups, dx1 = dx0 + groups, dx2 = dx1 + groups, dx3 = dx2 + groups;
        int* s0 = xq.QSum + (long)r0 * groups, s1 = s0 + groups, s2 = s1 + groups, s3 = s2 + groups;
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < nb; b++, q += 128, d += PackedQ32.G)
        {
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            int o = b * 32;
            for (int j = 0; j < 4; j++)
            {
                var v = Vector256.Load(q + 32 * j);
                var lo = v & mask;
                var hi = (v.AsUInt16() >> 4).AsByte() & mask;
                int ol = o + 4 * j, oh = ol + 16;
                i0 = Dp(Dp(i0, lo, x0 + ol), hi, x0 + oh);
                if (n > 1) i1 = Dp(Dp(i1, lo, x1 + ol), hi, x1 + oh);
                if (n > 2) i2 = Dp(Dp(i2, lo, x2 + ol), hi, x2 + oh);
                if (n > 3) i3 = Dp(Dp(i3, lo, x3 + ol), hi, x3 + oh);
            }
            var dw = Half8(d);
            // Stored nibbles are w + 8: dot(w, x) = dot(nibbles, x) - 8 * sum(x), in integers.
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0 - Vector256.Create(s0[b] << 3)), dw * dx0[b], a0);
            if (n > 1) a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1 - Vector256.Create(s1[b] << 3)), dw * dx1[b], a1);
            if (n > 2) a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2 - Vector256.Create(s2[b] << 3)), dw * dx2[b], a2);
            if (n > 3) a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3 - Vector256.Create(s3[b] << 3)), dw * dx3[b], a3);
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8<TR>(byte* q, ushort* d, int nb, QuantizedRows xq, int r0, Vector256<float>* acc) where TR : struct, IRows
    {
        int n = TR.N, groups = xq.Groups;
        sbyte* x0 = xq.Row(r0), x1 = n > 1 ? xq.Row(r0 + 1) : x0, x2 = n > 2 ? xq.Row(r0 + 2) : x0, x3 = n > 3 ? xq.Row(r0 + 3) : x0;
        float* dx0 = xq.D + (long)r0 * groups, dx1 = dx0 + groups, dx2 = dx1 + groups, dx3 = dx2 + groups;
        int* s0 = xq.QSum + (long)r0 * groups, s1 = s0 + groups, s2 = s1 + groups, s3 = s2 + groups;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < nb; b++, q += 256, d += PackedQ32.G)
        {
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            int o = b * 32;
            for (int j = 0; j < 8; j++)
            {
                var v = Vector256.Load(q + 32 * j);
                int oj = o + 4 * j;
                i0 = Dp(i0, v, x0 + oj);
                if (n > 1) i1 = Dp(i1, v, x1 + oj);
                if (n > 2) i2 = Dp(i2, v, x2 + oj);
                if (n > 3) i3 = Dp(i3, v, x3 + oj);
            }
            var dw = Half8(d);
            // Stored bytes are w + 128: dot(w, x) = dot(bytes, x) - 128 * sum(x), in integers.
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0 - Vector256.Create(s0[b] << 7)), dw * dx0[b], a0);
            if (n > 1) a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1 - Vector256.Create(s1[b] << 7)), dw * dx1[b], a1);
            if (n > 2) a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2 - Vector256.Create(s2[b] << 7)), dw * dx2[b], a2);
            if (n > 3) a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3 - Vector256.Create(s3[b] << 7)), dw * dx3[b], a3);
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
    }

    /// <summary>vpdpbusd of 32 unsigned weight bytes with 4 activation bytes broadcast to every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dp(Vector256<int> acc, Vector256<byte> w, sbyte* x) =>
        AvxVnni.MultiplyWideningAndAdd(acc, w, Vector256.Create(*(int*)x).AsSByte());

    /// <summary>8 f16 scales -> f32: sign-extended, shifted into f32 position with the three bits above the 5-bit
    /// exponent cleared, and rebiased by 2^112 (which also scales f16 subnormals right), as <see cref="F16.ToF32"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Half8(ushort* h)
    {
        var v = Avx2.ConvertToVector256Int32((short*)h);
        return ((v << 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create(5.192296858534828e33f);
    }
}
