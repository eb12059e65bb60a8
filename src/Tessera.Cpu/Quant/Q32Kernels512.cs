using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>One 32-element weight block format for <see cref="Q32Kernels512"/>: two consecutive blocks of a row read
/// in place, and their exact signed dot products with 64 activation bytes (ggml's integer block dot) through
/// vpmaddubsw (no saturation for these ranges) and vpmaddwd: int32 lanes 0..7 hold block b's dot (4 elements a
/// lane), lanes 8..15 block b + 1's.</summary>
internal unsafe interface IQ32Pair
{
    static abstract int Bytes { get; }
    /// <summary>The pair's quants; raw is the 64 bytes at p (both f16 scales at bytes 0 and Bytes, and for Q4_0 both
    /// blocks' quants too), read masked at a row's tail; full is false when only block b exists (read nothing past it).</summary>
    static abstract Vector512<sbyte> Quants(byte* p, Vector512<byte> raw, bool full, in Q32Consts c);
    /// <summary>The byte permutation that puts scale 0's bytes at the top of int32 lanes 0..7, scale 1's of 8..15.</summary>
    static abstract Vector512<byte> ScaleIndex(in Q32Consts c);
    /// <summary>What the weight pair needs besides its quants, made once and shared by every activation row.</summary>
    static abstract Vector512<sbyte> Aux(Vector512<sbyte> w);
    /// <summary>The 16 int32 dots; <paramref name="prep"/> is the activations' 8 * (sums of byte pairs) (Q4_0's offset).</summary>
    static abstract Vector512<int> Dot(Vector512<sbyte> w, Vector512<sbyte> aux, Vector512<sbyte> x, Vector512<short> prep, in Q32Consts c);
}

/// <summary>Constants the kernels load once, outside their loops.</summary>
internal readonly struct Q32Consts
{
    public readonly Vector512<byte> Spread4, Scale18, Scale34, Low4, Iota;
    public readonly Vector512<ushort> Shifts;
    public readonly Vector512<short> Ones;
    public readonly Vector512<int> F16Mask;

    public Q32Consts()
    {
        // Q4_0 pair at p: quants of block b at bytes 2..17, of block b + 1 at 20..35; spread to [a, a, b, b].
        var spread = new byte[64];
        for (int i = 0; i < 16; i++) { spread[i] = spread[16 + i] = (byte)(2 + i); spread[32 + i] = spread[48 + i] = (byte)(20 + i); }
        Spread4 = Vector512.Create(spread);
        Scale18 = ScaleBytes(18);
        Scale34 = ScaleBytes(34);
        var shifts = new ushort[32];
        for (int i = 0; i < 32; i++) shifts[i] = (ushort)((i / 8) % 2 == 1 ? 4 : 0);
        Shifts = Vector512.Create(shifts);
        Low4 = Vector512.Create((byte)0x0F);
        var iota = new byte[64];
        for (int i = 0; i < 64; i++) iota[i] = (byte)i;
        Iota = Vector512.Create(iota);
        Ones = Vector512.Create((short)1);
        F16Mask = Vector512.Create(unchecked((int)0x8FFFE000));
    }

    /// <summary>int32 lane i gets the f16 at byte 0 (i &lt; 8) or at byte <paramref name="second"/> in its top half.</summary>
    private static Vector512<byte> ScaleBytes(int second)
    {
        var idx = new byte[64];
        for (int i = 0; i < 16; i++)
        {
            int at = i < 8 ? 0 : second;
            idx[4 * i] = idx[4 * i + 2] = (byte)at;
            idx[4 * i + 1] = idx[4 * i + 3] = (byte)(at + 1);
        }
        return Vector512.Create(idx);
    }
}

/// <summary>Q8_0: the weights are signed, so their sign moves to the activations (ggml's mul_sum_i8_pairs trick):
/// |w| (0..128) times sign(w) * x, at most 2 * 128 * 127 per int16 pair.</summary>
internal unsafe struct Q8_0Pair : IQ32Pair
{
    public static int Bytes => 34;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Quants(byte* p, Vector512<byte> raw, bool full, in Q32Consts c) =>
        Vector256.Load((sbyte*)p + 2).ToVector512Unsafe().WithUpper(full ? Vector256.Load((sbyte*)p + 36) : Vector256<sbyte>.Zero);

    public static Vector512<byte> ScaleIndex(in Q32Consts c) => c.Scale34;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Aux(Vector512<sbyte> w) => Avx512BW.Abs(w).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<sbyte> w, Vector512<sbyte> aux, Vector512<sbyte> x, Vector512<short> prep, in Q32Consts c)
    {
        var sx = Avx512BW.BlendVariable(x, Vector512<sbyte>.Zero - x, w);
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(aux.AsByte(), sx), c.Ones);
    }
}

/// <summary>Q4_0: nibbles u (0..15) times x in vpmaddubsw, minus 8 * (x pair sums) in int16 (exact: the dot of
/// u - 8 with x, what ggml computes). The pair's 2 x 16 quant bytes, inside the one 64-byte load that also holds the
/// scales, are spread by one vpermb to [a, a, b, b] and the 2nd and 4th quarters shifted down a nibble (ggml's
/// order: low nibbles are elements 0..15).</summary>
internal unsafe struct Q4_0Pair : IQ32Pair
{
    public static int Bytes => 18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Quants(byte* p, Vector512<byte> raw, bool full, in Q32Consts c) =>
        (Avx512BW.ShiftRightLogicalVariable(Avx512Vbmi.PermuteVar64x8(raw, c.Spread4).AsUInt16(), c.Shifts).AsByte() & c.Low4).AsSByte();

    public static Vector512<byte> ScaleIndex(in Q32Consts c) => c.Scale18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Aux(Vector512<sbyte> w) => w;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<sbyte> w, Vector512<sbyte> aux, Vector512<sbyte> x, Vector512<short> prep, in Q32Consts c) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w.AsByte(), x) - prep, c.Ones);
}

/// <summary>Q8_0 and Q4_0 dot products on AVX-512BW (vpmaddubsw + vpmaddwd: .NET 10 gives no 512-bit VNNI), with the
/// weights read in place. Two blocks per 512-bit step: one 64-byte load gives both f16 scales (and Q4_0's quants),
/// one vpermb + shift + mask turns the scales into 16 f32 lanes (8 per block, as <see cref="F16.ToF32"/> converts),
/// and the activation side (pair sums, scales times 2^112) comes precomputed from <see cref="QuantizedRows"/>. Per
/// output a 16-lane float accumulator takes convert(int dot) * (dw * dx) for each block pair in order, then one
/// fixed horizontal sum. Every kernel here does exactly that per (activation row, weight row), whatever the tile, so
/// a row's result does not depend on how many rows the call has (batch invariance).</summary>
internal static unsafe class Q32Kernels512
{
    public static bool Supported => Avx512BW.IsSupported && Avx512Vbmi.IsSupported;

    private static readonly Q32Consts s_consts = new();

    /// <summary>Block pairs of a row that may be read as 64 bytes from their start: all of them, except the last one of
    /// the weight's last row when a pair is shorter than 64 bytes (the read would pass the end of the tensor).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FastPairs<TB>(int nb, bool lastRow) where TB : struct, IQ32Pair =>
        nb / 2 - (lastRow && 2 * TB.Bytes < 64 && nb >= 2 ? 1 : 0);

    /// <summary>dst[i * dstRowStride] = dot(activation row r0 + i, weight row w) for i &lt; TR.N (up to 8), each weight
    /// pair unpacked once for all of them; lastRow says w is the weight's last row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows<TB, TR>(byte* w, int nb, bool lastRow, QuantizedRows xq, int r0, float* dst, long dstRowStride)
        where TB : struct, IQ32Pair where TR : struct, IRows
    {
        const int R = QuantizedRows.PairRecord;
        var c = s_consts;
        var sidx = TB.ScaleIndex(c);
        int n = TR.N, bytes = TB.Bytes, fast = FastPairs<TB>(nb, lastRow);
        byte* a = xq.PairData(r0);
        long stride = xq.PairStride;
        byte* p = w;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int i = 0; i < (nb + 1) / 2; i++, p += 2 * bytes, a += stride)
        {
            bool full = i < fast || 2 * i + 1 < nb;
            // A row's tail (the weight's last pair, or an odd last block) is read masked: nothing past it is touched.
            var raw = i < fast ? Vector512.Load(p) : Avx512BW.MaskLoad(p, Vector512.LessThan(c.Iota, Vector512.Create((byte)((full ? 2 : 1) * bytes))), default);
            var wv = TB.Quants(p, raw, full, c);
            var aux = TB.Aux(wv);
            var dw = ScaleBits(raw, sidx, c);
            a0 = Step<TB>(a0, wv, aux, a, dw, c);
            if (n > 1) a1 = Step<TB>(a1, wv, aux, a + R, dw, c);
            if (n > 2) a2 = Step<TB>(a2, wv, aux, a + 2 * R, dw, c);
            if (n > 3) a3 = Step<TB>(a3, wv, aux, a + 3 * R, dw, c);
            if (n > 4) a4 = Step<TB>(a4, wv, aux, a + 4 * R, dw, c);
            if (n > 5) a5 = Step<TB>(a5, wv, aux, a + 5 * R, dw, c);
            if (n > 6) a6 = Step<TB>(a6, wv, aux, a + 6 * R, dw, c);
            if (n > 7) a7 = Step<TB>(a7, wv, aux, a + 7 * R, dw, c);
        }
        dst[0] = Vector512.Sum(a0);
        if (n > 1) dst[dstRowStride] = Vector512.Sum(a1);
        if (n > 2) dst[2 * dstRowStride] = Vector512.Sum(a2);
        if (n > 3) dst[3 * dstRowStride] = Vector512.Sum(a3);
        if (n > 4) dst[4 * dstRowStride] = Vector512.Sum(a4);
        if (n > 5) dst[5 * dstRowStride] = Vector512.Sum(a5);
        if (n > 6) dst[6 * dstRowStride] = Vector512.Sum(a6);
        if (n > 7) dst[7 * dstRowStride] = Vector512.Sum(a7);
    }

    /// <summary>The decode kernel: dst[c] = dot(activation row r, weight row c) for the 4 weight rows at w,
    /// w + rowBytes, ..., which share each activation load. Each row prefetches the same offset of the row 4 further,
    /// which the next call reads: rows are short (18 to 100 cache lines), so a prefetch a fixed distance ahead in the
    /// row mostly lands in the rows this call already streams (measured from DRAM, `peer qmatmul --k 2048 --n 65536`:
    /// 0.26 to 0.38 of the streaming-read ceiling for Q4_0, 0.40 to 0.63 for Q8_0). lastRow says the 4th row is the
    /// weight's last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Cols4<TB>(byte* w, long rowBytes, int nb, bool lastRow, QuantizedRows xq, int r, float* dst) where TB : struct, IQ32Pair
    {
        var c = s_consts;
        var sidx = TB.ScaleIndex(c);
        int bytes = TB.Bytes, fast = FastPairs<TB>(nb, lastRow);
        byte* a = xq.PairData(r);
        long stride = xq.PairStride;
        byte* w1 = w + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        long ahead = 4 * rowBytes;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i < fast; i++, a += stride)
        {
            long off = (long)i * 2 * bytes;
            byte* p0 = w + off, p1 = w1 + off, p2 = w2 + off, p3 = w3 + off;
            Sse.Prefetch0(p0 + ahead); Sse.Prefetch0(p1 + ahead); Sse.Prefetch0(p2 + ahead); Sse.Prefetch0(p3 + ahead);
            var xv = Vector512.Load((sbyte*)a);
            var prep = Vector512.Load((short*)(a + 64));
            var sx = Vector512.Load((float*)(a + 128));
            a0 = Col<TB>(a0, p0, Vector512.Load(p0), true, xv, prep, sx, sidx, c);
            a1 = Col<TB>(a1, p1, Vector512.Load(p1), true, xv, prep, sx, sidx, c);
            a2 = Col<TB>(a2, p2, Vector512.Load(p2), true, xv, prep, sx, sidx, c);
            a3 = Col<TB>(a3, p3, Vector512.Load(p3), true, xv, prep, sx, sidx, c);
        }
        // The rows' tails (an odd last block, or the last pair of the weight's last row) are read masked; the
        // arithmetic is the same.
        for (; i < (nb + 1) / 2; i++, a += stride)
        {
            long off = (long)i * 2 * bytes;
            bool full = 2 * i + 1 < nb;
            var mask = Vector512.LessThan(c.Iota, Vector512.Create((byte)((full ? 2 : 1) * bytes)));
            var xv = Vector512.Load((sbyte*)a);
            var prep = Vector512.Load((short*)(a + 64));
            var sx = Vector512.Load((float*)(a + 128));
            byte* p0 = w + off, p1 = w1 + off, p2 = w2 + off, p3 = w3 + off;
            a0 = Col<TB>(a0, p0, Avx512BW.MaskLoad(p0, mask, default), full, xv, prep, sx, sidx, c);
            a1 = Col<TB>(a1, p1, Avx512BW.MaskLoad(p1, mask, default), full, xv, prep, sx, sidx, c);
            a2 = Col<TB>(a2, p2, Avx512BW.MaskLoad(p2, mask, default), full, xv, prep, sx, sidx, c);
            a3 = Col<TB>(a3, p3, Avx512BW.MaskLoad(p3, mask, default), full, xv, prep, sx, sidx, c);
        }
        dst[0] = Vector512.Sum(a0); dst[1] = Vector512.Sum(a1); dst[2] = Vector512.Sum(a2); dst[3] = Vector512.Sum(a3);
    }

    /// <summary>One block pair of one weight row in the decode kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Col<TB>(Vector512<float> acc, byte* p, Vector512<byte> raw, bool full, Vector512<sbyte> xv, Vector512<short> prep,
        Vector512<float> sx, Vector512<byte> sidx, in Q32Consts c) where TB : struct, IQ32Pair
    {
        var wv = TB.Quants(p, raw, full, c);
        var dot = TB.Dot(wv, TB.Aux(wv), xv, prep, c);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(dot), ScaleBits(raw, sidx, c) * sx, acc);
    }

    /// <summary>One block pair of one (activation row, weight row) in the GEMM kernel, the activation row's pair record
    /// at rec: the same operations as <see cref="Col"/>, so that results are independent of the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step<TB>(Vector512<float> acc, Vector512<sbyte> w, Vector512<sbyte> aux, byte* rec, Vector512<float> dw, in Q32Consts c)
        where TB : struct, IQ32Pair
    {
        var dot = TB.Dot(w, aux, Vector512.Load((sbyte*)rec), Vector512.Load((short*)(rec + 64)), c);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(dot), dw * Vector512.Load((float*)(rec + 128)), acc);
    }

    /// <summary>The pair's two f16 scales as 16 f32 lanes (8 each) times 2^-112: vpermb puts each f16 in the top half
    /// of its lane, an arithmetic shift by 3 sign-extends it to (h &lt;&lt; 13) and the mask keeps sign, exponent and
    /// mantissa (<see cref="F16.ToF32"/>'s bits; the activation scales carry the 2^112, which is exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaleBits(Vector512<byte> raw, Vector512<byte> sidx, in Q32Consts c) =>
        (Avx512F.ShiftRightArithmetic(Avx512Vbmi.PermuteVar64x8(raw, sidx).AsInt32(), 3) & c.F16Mask).AsSingle();
}
