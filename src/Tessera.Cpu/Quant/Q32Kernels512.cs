using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>One 32-element weight block format for <see cref="Q32Kernels512"/>: two consecutive blocks of a row read
/// in place as 64 bytes, and their exact signed dot products with 64 activation bytes (ggml's integer block dot)
/// through vpmaddubsw (no saturation for these ranges) and vpmaddwd: int32 lanes 0..7 hold block b's dot (4
/// elements a lane), lanes 8..15 block b + 1's.</summary>
internal unsafe interface IQ32Pair
{
    static abstract int Bytes { get; }
    /// <summary>The two blocks at p and p + Bytes.</summary>
    static abstract Vector512<sbyte> Pair(byte* p, in Q32Consts c);
    /// <summary>The block at p in the low half (the high half is anything: it meets zero activations).</summary>
    static abstract Vector512<sbyte> One(byte* p, in Q32Consts c);
    /// <summary>What the dot needs of the activations alone, computed once per activation load.</summary>
    static abstract Vector512<short> Prep(Vector512<sbyte> x, in Q32Consts c);
    static abstract Vector512<int> Dot(Vector512<sbyte> w, Vector512<sbyte> x, Vector512<short> prep, in Q32Consts c);
}

/// <summary>Constants the kernels load once, outside their loops.</summary>
internal readonly struct Q32Consts
{
    public readonly Vector512<byte> Spread, Low4, Eight;
    public readonly Vector512<ushort> Shifts;
    public readonly Vector512<short> Ones;
    public readonly Vector512<int> ScaleIndex;

    public Q32Consts()
    {
        var spread = new byte[64];
        for (int i = 0; i < 16; i++) { spread[i] = spread[16 + i] = (byte)i; spread[32 + i] = spread[48 + i] = (byte)(48 + i); }
        Spread = Vector512.Create(spread);
        var shifts = new ushort[32];
        for (int i = 0; i < 32; i++) shifts[i] = (ushort)((i / 8) % 2 == 1 ? 4 : 0);
        Shifts = Vector512.Create(shifts);
        Low4 = Vector512.Create((byte)0x0F);
        Eight = Vector512.Create((byte)8);
        Ones = Vector512.Create((short)1);
        var idx = new int[16];
        for (int i = 0; i < 16; i++) idx[i] = i / 8;
        ScaleIndex = Vector512.Create(idx);
    }
}

/// <summary>Q8_0: the weights are signed, so their sign moves to the activations (ggml's mul_sum_i8_pairs trick):
/// |w| (0..128) times sign(w) * x, at most 2 * 128 * 127 per int16 pair.</summary>
internal unsafe struct Q8_0Pair : IQ32Pair
{
    public static int Bytes => 34;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Pair(byte* p, in Q32Consts c) =>
        Vector256.Load((sbyte*)p + 2).ToVector512Unsafe().WithUpper(Vector256.Load((sbyte*)p + 36));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> One(byte* p, in Q32Consts c) => Vector256.Load((sbyte*)p + 2).ToVector512Unsafe();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> Prep(Vector512<sbyte> x, in Q32Consts c) => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<sbyte> w, Vector512<sbyte> x, Vector512<short> prep, in Q32Consts c)
    {
        var sx = Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), Vector512<sbyte>.Zero - x, x);
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(w), sx), c.Ones);
    }
}

/// <summary>Q4_0: nibbles u (0..15) times x in vpmaddubsw, minus 8 * (x pair sums) in int16 (exact: the dot of
/// u - 8 with x, what ggml computes). The pair's 2 x 16 quant bytes are spread by one vpermb to [a, a, b, b] and
/// the 2nd and 4th quarters shifted down a nibble (ggml's order: low nibbles are elements 0..15).</summary>
internal unsafe struct Q4_0Pair : IQ32Pair
{
    public static int Bytes => 18;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Pair(byte* p, in Q32Consts c)
    {
        // Bytes p+2..p+33 and p+4..p+35: block b's quants at 0..15, block b+1's at 48..63; nothing past the pair.
        var raw = Vector256.Load(p + 2).ToVector512Unsafe().WithUpper(Vector256.Load(p + 4));
        return Nibbles(Avx512Vbmi.PermuteVar64x8(raw, c.Spread), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> One(byte* p, in Q32Consts c)
    {
        var a = Vector128.Load(p + 2);
        return Nibbles(Vector256.Create(a, a).ToVector512Unsafe(), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Nibbles(Vector512<byte> v, in Q32Consts c) =>
        (Avx512BW.ShiftRightLogicalVariable(v.AsUInt16(), c.Shifts).AsByte() & c.Low4).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> Prep(Vector512<sbyte> x, in Q32Consts c) => Avx512BW.MultiplyAddAdjacent(c.Eight, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Dot(Vector512<sbyte> w, Vector512<sbyte> x, Vector512<short> prep, in Q32Consts c) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(w.AsByte(), x) - prep, c.Ones);
}

/// <summary>Q8_0 and Q4_0 dot products on AVX-512BW (vpmaddubsw + vpmaddwd: .NET 10 gives no 512-bit VNNI), with the
/// weights read in place. Two blocks per 512-bit step; per output a 16-lane float accumulator takes
/// convert(int dot) * (dw * dx) for each block pair in order, then one fixed horizontal sum. Every kernel here does
/// exactly that per (activation row, weight row), whatever the tile, so a row's result does not depend on how many
/// rows the call has (batch invariance).</summary>
internal static unsafe class Q32Kernels512
{
    public static bool Supported => Avx512BW.IsSupported && Avx512Vbmi.IsSupported;

    /// <summary>How far ahead the decode kernel prefetches each weight row, in bytes.</summary>
    private const int Prefetch = 512;

    private static readonly Q32Consts s_consts = new();

    /// <summary>dst[i * dstRowStride] = dot(activation row r0 + i, weight row w) for i &lt; TR.N.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows<TB, TR>(byte* w, int nb, QuantizedRows xq, int r0, float* dst, long dstRowStride)
        where TB : struct, IQ32Pair where TR : struct, IRows
    {
        var c = s_consts;
        int n = TR.N, groups = xq.Groups, bytes = TB.Bytes;
        sbyte* x0 = xq.Row(r0), x1 = n > 1 ? xq.Row(r0 + 1) : x0, x2 = n > 2 ? xq.Row(r0 + 2) : x0, x3 = n > 3 ? xq.Row(r0 + 3) : x0;
        float* d0 = xq.D + (long)r0 * groups, d1 = d0 + groups, d2 = d1 + groups, d3 = d2 + groups;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int b = 0;
        for (; b + 2 <= nb; b += 2)
        {
            byte* p = w + (long)b * bytes;
            var wv = TB.Pair(p, c);
            var dw = Scales(p, bytes);
            int o = b * 32;
            a0 = Step<TB>(a0, wv, Vector512.Load(x0 + o), dw, Two(d0 + b), c);
            if (n > 1) a1 = Step<TB>(a1, wv, Vector512.Load(x1 + o), dw, Two(d1 + b), c);
            if (n > 2) a2 = Step<TB>(a2, wv, Vector512.Load(x2 + o), dw, Two(d2 + b), c);
            if (n > 3) a3 = Step<TB>(a3, wv, Vector512.Load(x3 + o), dw, Two(d3 + b), c);
        }
        if (b < nb)
        {
            byte* p = w + (long)b * bytes;
            var wv = TB.One(p, c);
            var dw = Scale(p);
            int o = b * 32;
            a0 = Step<TB>(a0, wv, Half(x0 + o), dw, Vector128.CreateScalar(d0[b]), c);
            if (n > 1) a1 = Step<TB>(a1, wv, Half(x1 + o), dw, Vector128.CreateScalar(d1[b]), c);
            if (n > 2) a2 = Step<TB>(a2, wv, Half(x2 + o), dw, Vector128.CreateScalar(d2[b]), c);
            if (n > 3) a3 = Step<TB>(a3, wv, Half(x3 + o), dw, Vector128.CreateScalar(d3[b]), c);
        }
        dst[0] = Vector512.Sum(a0);
        if (n > 1) dst[dstRowStride] = Vector512.Sum(a1);
        if (n > 2) dst[2 * dstRowStride] = Vector512.Sum(a2);
        if (n > 3) dst[3 * dstRowStride] = Vector512.Sum(a3);
    }

    /// <summary>The decode kernel: dst[c] = dot(activation row r, weight row c) for the 4 weight rows at w,
    /// w + rowBytes, ..., which share each activation load; each weight row is prefetched ahead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Cols4<TB>(byte* w, long rowBytes, int nb, QuantizedRows xq, int r, float* dst) where TB : struct, IQ32Pair
    {
        var c = s_consts;
        int bytes = TB.Bytes;
        sbyte* x = xq.Row(r);
        float* dx = xq.D + (long)r * xq.Groups;
        byte* w1 = w + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int b = 0;
        for (; b + 2 <= nb; b += 2)
        {
            long off = (long)b * bytes;
            byte* p0 = w + off, p1 = w1 + off, p2 = w2 + off, p3 = w3 + off;
            Sse.Prefetch0(p0 + Prefetch); Sse.Prefetch0(p1 + Prefetch); Sse.Prefetch0(p2 + Prefetch); Sse.Prefetch0(p3 + Prefetch);
            var xv = Vector512.Load(x + b * 32);
            var prep = TB.Prep(xv, c);
            var sx = Two(dx + b);
            a0 = Fold(a0, TB.Dot(TB.Pair(p0, c), xv, prep, c), Scales(p0, bytes) * sx, c);
            a1 = Fold(a1, TB.Dot(TB.Pair(p1, c), xv, prep, c), Scales(p1, bytes) * sx, c);
            a2 = Fold(a2, TB.Dot(TB.Pair(p2, c), xv, prep, c), Scales(p2, bytes) * sx, c);
            a3 = Fold(a3, TB.Dot(TB.Pair(p3, c), xv, prep, c), Scales(p3, bytes) * sx, c);
        }
        if (b < nb)
        {
            long off = (long)b * bytes;
            byte* p0 = w + off, p1 = w1 + off, p2 = w2 + off, p3 = w3 + off;
            var xv = Half(x + b * 32);
            var prep = TB.Prep(xv, c);
            var sx = Vector128.CreateScalar(dx[b]);
            a0 = Fold(a0, TB.Dot(TB.One(p0, c), xv, prep, c), Scale(p0) * sx, c);
            a1 = Fold(a1, TB.Dot(TB.One(p1, c), xv, prep, c), Scale(p1) * sx, c);
            a2 = Fold(a2, TB.Dot(TB.One(p2, c), xv, prep, c), Scale(p2) * sx, c);
            a3 = Fold(a3, TB.Dot(TB.One(p3, c), xv, prep, c), Scale(p3) * sx, c);
        }
        dst[0] = Vector512.Sum(a0); dst[1] = Vector512.Sum(a1); dst[2] = Vector512.Sum(a2); dst[3] = Vector512.Sum(a3);
    }

    /// <summary>One block pair (or the last single block) of one (activation row, weight row): the same operations
    /// in every kernel, so that results are independent of the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step<TB>(Vector512<float> acc, Vector512<sbyte> w, Vector512<sbyte> x, Vector128<float> dw, Vector128<float> sx,
        in Q32Consts c) where TB : struct, IQ32Pair =>
        Fold(acc, TB.Dot(w, x, TB.Prep(x, c), c), dw * sx, c);

    /// <summary>The activation scales of blocks b and b + 1 (lanes 0, 1; the rest zero or anything finite).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Two(float* d) => Vector128.CreateScalar(*(double*)d).AsSingle();

    /// <summary>acc + float(dot) * [s0 x 8, s1 x 8].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fold(Vector512<float> acc, Vector512<int> dot, Vector128<float> s, in Q32Consts c) =>
        Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(dot), Avx512F.PermuteVar16x32(s.ToVector256Unsafe().ToVector512Unsafe(), c.ScaleIndex), acc);

    /// <summary>The f16 scales of the blocks at p and p + bytes as f32 lanes 0 and 1, converted as
    /// <see cref="F16.ToF32"/> does (sign-extend, shift, mask, rebias by 2^112).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Scales(byte* p, int bytes) =>
        ToF32(Vector128.CreateScalarUnsafe((int)*(short*)p).WithElement(1, *(short*)(p + bytes)));

    /// <summary>The f16 scale of the block at p in lane 0, zero in lane 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Scale(byte* p) => ToF32(Vector128.CreateScalar((int)*(short*)p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ToF32(Vector128<int> h) =>
        ((h << 13) & Vector128.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector128.Create(5.192296858534828e33f);

    /// <summary>32 activation bytes in the low half, zeros above (the last, odd block of a row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Half(sbyte* x) => Vector256.Load(x).ToVector512Unsafe().WithUpper(Vector256<sbyte>.Zero);
}
