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
        else if (TR.N != 4) throw new TesseraException($"PackedQ32Kernels: no kernel for {TR.N} activation rows");
        else if (p.Type == DType.Q4_0) Q4Rows4(p.GroupQ(g), p.GroupD(g), p.Blocks, xq, r0, acc);
        else Q8Rows4(p.GroupQ(g), p.GroupD(g), p.Blocks, xq, r0, acc);
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

    /// <summary>The GEMM kernel of Q4_0: 4 activation rows share each unpacked weight vector; per row, the low and
    /// high nibbles feed two integer chains as in <see cref="Q4Row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4Rows4(byte* q, ushort* d, int nb, QuantizedRows xq, int r0, Vector256<float>* acc)
    {
        int groups = xq.Groups, xs = xq.Stride;
        sbyte* x = xq.Row(r0);
        float* dx = xq.D + (long)r0 * groups;
        int* sx = xq.QSum + (long)r0 * groups;
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < nb; b++, q += 128, d += PackedQ32.G, x += 32)
        {
            Vector256<int> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
            for (int j = 0; j < 4; j++)
            {
                var v = Vector256.Load(q + 32 * j);
                var lo = v & mask;
                var hi = v ^ lo;
                sbyte* xj = x + 4 * j;
                l0 = Dp(l0, lo, xj); h0 = Dp(h0, hi, xj + 16);
                l1 = Dp(l1, lo, xj + xs); h1 = Dp(h1, hi, xj + xs + 16);
                l2 = Dp(l2, lo, xj + 2 * xs); h2 = Dp(h2, hi, xj + 2 * xs + 16);
                l3 = Dp(l3, lo, xj + 3 * xs); h3 = Dp(h3, hi, xj + 3 * xs + 16);
            }
            var dw = Half8(d);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(l0 + (h0 >> 4) - Vector256.Create(sx[b] << 3)), dw * dx[b], a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(l1 + (h1 >> 4) - Vector256.Create(sx[b + groups] << 3)), dw * dx[b + groups], a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(l2 + (h2 >> 4) - Vector256.Create(sx[b + 2 * groups] << 3)), dw * dx[b + 2 * groups], a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(l3 + (h3 >> 4) - Vector256.Create(sx[b + 3 * groups] << 3)), dw * dx[b + 3 * groups], a3);
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
    }

    /// <summary>The GEMM kernel of Q8_0: 4 activation rows share each weight vector, two integer chains a row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8Rows4(byte* q, ushort* d, int nb, QuantizedRows xq, int r0, Vector256<float>* acc)
    {
        int groups = xq.Groups, xs = xq.Stride;
        sbyte* x = xq.Row(r0);
        float* dx = xq.D + (long)r0 * groups;
        int* sx = xq.QSum + (long)r0 * groups;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < nb; b++, q += 256, d += PackedQ32.G, x += 32)
        {
            Vector256<int> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
            for (int j = 0; j < 8; j += 2)
            {
                var v = Vector256.Load(q + 32 * j);
                var u = Vector256.Load(q + 32 * j + 32);
                sbyte* xj = x + 4 * j;
                e0 = Dp(e0, v, xj); o0 = Dp(o0, u, xj + 4);
                e1 = Dp(e1, v, xj + xs); o1 = Dp(o1, u, xj + xs + 4);
                e2 = Dp(e2, v, xj + 2 * xs); o2 = Dp(o2, u, xj + 2 * xs + 4);
                e3 = Dp(e3, v, xj + 3 * xs); o3 = Dp(o3, u, xj + 3 * xs + 4);
            }
            var dw = Half8(d);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(e0 + o0 - Vector256.Create(sx[b] << 7)), dw * dx[b], a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(e1 + o1 - Vector256.Create(sx[b + groups] << 7)), dw * dx[b + groups], a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(e2 + o2 - Vector256.Create(sx[b + 2 * groups] << 7)), dw * dx[b + 2 * groups], a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(e3 + o3 - Vector256.Create(sx[b + 3 * groups] << 7)), dw * dx[b + 3 * groups], a3);
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
