using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>How activations are quantized for a quantized matmul. The weight's format fixes the choice:
/// per-row int8 for I8 weights, 32-element blocks (as ggml's Q8_0, with the block sum kept as Q8_1 does) for
/// Q8_0/Q4_0/Q4_1, 256-element super-blocks with 16-element sums (ggml's Q8_K) for Q4_K/Q6_K.</summary>
internal enum ActKind { Row, Block32, Block256 }

/// <summary>f32 activation rows [rows, K] quantized symmetrically to int8: q = round(x / d), d = max|x| / 127 per
/// group (a row, or a block of 32 or 256). Kept beside q: the group scale d, and for blocks s = d * sum(q) (what the
/// offset-binary dot products subtract) or, for 256-blocks, the int sums of every 16 elements.</summary>
internal sealed unsafe class QuantizedRows : IDisposable
{
    public readonly ActKind Kind;
    public readonly int Rows, K, Group, Groups;
    /// <summary>Bytes per row of <see cref="Q"/>: K rounded up to a multiple of 4 (padding holds zeros).</summary>
    public readonly int Stride;
    /// <summary>Whether <see cref="Q"/> holds q + 128 as unsigned bytes (the int8 GEMM's VNNI operand).</summary>
    public readonly bool Offset128;
    public sbyte* Q;
    public float* D;       // [rows, groups]
    public float* S;       // [rows, groups]: d * sum(q) of each group (Row and Block32)
    public short* BSums;   // [rows, groups * 16]: sums of q over each 16 elements (Block256)
    public int* QSum;      // [rows, groups]: sum(q) of each group, exact
    /// <summary>Block pairs per row when made for <see cref="Q32Kernels512"/> (0 otherwise).</summary>
    public readonly int Pairs;
    /// <summary>[pairs, rows] records of <see cref="PairRecord"/> bytes: the pair's 64 quantized bytes (zeros past K),
    /// 8 * (q[2i] + q[2i + 1]) as 32 int16 (Q4_0's offset), and 16 f32 scales (d of block 2p in lanes 0..7, of 2p + 1
    /// in 8..15, times 2^112). Pair-major, so that the rows of a tile sit at fixed offsets from one pointer.</summary>
    private byte* _pairs;
    public const int PairRecord = 192;

    /// <summary>Room for <paramref name="rows"/> rows of length <paramref name="k"/> (rounded up to a multiple of
    /// <paramref name="padRowsTo"/>, padding rows zero or 128 with <paramref name="offset128"/>); with
    /// <paramref name="pairs"/> (Block32 only) also the per-pair activation data of <see cref="Q32Kernels512"/>, rows
    /// then padded with zeros to whole 64-byte pairs.</summary>
    public QuantizedRows(ActKind kind, int rows, int k, int padRowsTo = 1, bool offset128 = false, bool pairs = false)
    {
        Kind = kind; K = k; Offset128 = offset128;
        Group = kind switch { ActKind.Row => k, ActKind.Block32 => 32, _ => 256 };
        if (k % Group != 0) throw new TesseraException($"quantized activations: K = {k} is not a multiple of the {Group}-element block");
        Groups = k / Group;
        Rows = (rows + padRowsTo - 1) / padRowsTo * padRowsTo;
        if (pairs && kind != ActKind.Block32) throw new ArgumentException("pair data is made for 32-element blocks only", nameof(pairs));
        Pairs = pairs ? (Groups + 1) / 2 : 0;
        Stride = pairs ? Pairs * 64 : (k + 3) & ~3;
        Q = (sbyte*)Alloc((long)Rows * Stride);
        NativeMemory.Fill(Q, (nuint)((long)Rows * Stride), offset128 ? (byte)128 : (byte)0);
        D = (float*)Alloc((long)Rows * Groups * 4);
        NativeMemory.Clear(D, (nuint)((long)Rows * Groups * 4));
        S = (float*)Alloc((long)Rows * Groups * 4);
        NativeMemory.Clear(S, (nuint)((long)Rows * Groups * 4));
        QSum = (int*)Alloc((long)Rows * Groups * 4);
        NativeMemory.Clear(QSum, (nuint)((long)Rows * Groups * 4));
        if (kind == ActKind.Block256) BSums = (short*)Alloc((long)Rows * Groups * 16 * 2);
        if (pairs)
            _pairs = (byte*)Alloc((long)Rows * Pairs * PairRecord);
    }

    /// <summary>Row r's record of pair 0; pair i's is <see cref="PairStride"/> * i bytes further, row r + 1's
    /// <see cref="PairRecord"/> bytes further.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public byte* PairData(int r) => _pairs + (long)r * PairRecord;

    /// <summary>Bytes from one pair's records to the next's.</summary>
    public long PairStride => (long)Rows * PairRecord;

    private static void* Alloc(long bytes) => NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);

    public sbyte* Row(int r) => Q + (long)r * Stride;

    /// <summary>Quantizes rows [r0, r1) of a contiguous f32 matrix with row length K.</summary>
    public void Quantize(float* x, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * K;
            sbyte* q = Row(r);
            for (int g = 0; g < Groups; g++)
            {
                int sum = QuantizeGroup(xr + g * Group, q + g * Group, Group, out float d, Offset128, Kind);
                D[(long)r * Groups + g] = d;
                S[(long)r * Groups + g] = d * sum;
                QSum[(long)r * Groups + g] = sum;
                if (Kind == ActKind.Block256)
                {
                    short* bs = BSums + ((long)r * Groups + g) * 16;
                    sbyte* qg = q + g * Group;
                    for (int j = 0; j < 16; j++)
                    {
                        int s = 0;
                        for (int l = 0; l < 16; l++) s += qg[16 * j + l];
                        bs[j] = (short)s;
                    }
                }
            }
            if (Pairs > 0) MakePairs(r);
        }
    }

    /// <summary>Row r's pair data: the int16 pair sums of 8 * q (vpmaddubsw of 8 with q, as the Q4_0 kernel subtracts
    /// them) and the two block scales spread over 8 lanes each, times 2^112 (the weight scales come as f16 bits
    /// shifted into f32 without their 2^112 rebias; multiplying by a power of two is exact).</summary>
    private void MakePairs(int r)
    {
        sbyte* q = Row(r);
        float* d = D + (long)r * Groups;
        byte* rec = PairData(r);
        for (int p = 0; p < Pairs; p++, rec += PairStride)
        {
            var x = Vector512.Load(q + 64 * p);
            x.Store((sbyte*)rec);
            short* prep = (short*)(rec + 64);
            if (Avx512BW.IsSupported) Avx512BW.MultiplyAddAdjacent(Vector512.Create((byte)8), x).Store(prep);
            else for (int j = 0; j < 32; j++) prep[j] = (short)(8 * (q[64 * p + 2 * j] + q[64 * p + 2 * j + 1]));
            float d0 = d[2 * p] * 5.192296858534828e33f, d1 = 2 * p + 1 < Groups ? d[2 * p + 1] * 5.192296858534828e33f : 0;
            Vector256.Create(d0).ToVector512Unsafe().WithUpper(Vector256.Create(d1)).Store((float*)(rec + 128));
        }
    }

    /// <summary>q = round-half-even(x * id) with id = 127 / max|x| (0 for an all-zero group); returns sum(q). The scale d
    /// is ggml's for each kind: Block32 as quantize_row_q8_0 stores it (max|x| / 127 rounded to fp16: the dot products
    /// then use exactly ggml's scale), Block256 as quantize_row_q8_K (1 / id, f32), Row max|x| / 127.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static int QuantizeGroup(float* x, sbyte* q, int n, out float d, bool offset128, ActKind kind)
    {
        float amax = 0;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && n >= 32)
        {
            var m = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) m = Vector512.Max(m, Vector512.Abs(Vector512.Load(x + i)));
            var m8 = Vector256.Max(m.GetLower(), m.GetUpper());
            for (int l = 0; l < 8; l++) amax = MathF.Max(amax, m8.GetElement(l));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            var m = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + i)));
            for (int l = 0; l < 8; l++) amax = MathF.Max(amax, m.GetElement(l));
        }
        for (; i < n; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
        float id = amax == 0 ? 0 : 127f / amax;
        d = kind switch
        {
            ActKind.Block32 => (float)(Half)(amax / 127f),
            ActKind.Block256 => amax == 0 ? 0 : 1f / id,
            _ => amax / 127f,
        };
        int sum = 0;
        i = 0;
        if (Avx512F.IsSupported)
        {
            // vcvtps2dq rounds half to even under the default MXCSR, like MathF.Round; vpmovdb narrows 16 ints to bytes.
            var vid = Vector512.Create(id);
            var vs = Vector512<int>.Zero;
            var off = Vector128.Create(offset128 ? (sbyte)-128 : (sbyte)0);
            for (; i + 16 <= n; i += 16)
            {
                var v = Avx512F.ConvertToVector512Int32(Vector512.Load(x + i) * vid);
                vs += v;
                (Avx512F.ConvertToVector128SByte(v) ^ off).Store(q + i); // xor 0x80: q + 128 as an unsigned byte
            }
            sum = Vector512.Sum(vs);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vid = Vector256.Create(id);
            var vs = Vector256<int>.Zero;
            var off = Vector256.Create(offset128 ? (sbyte)-128 : (sbyte)0);
            for (; i + 32 <= n; i += 32)
            {
                var a = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i) * vid));
                var b = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 8) * vid));
                var c = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 16) * vid));
                var e = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 24) * vid));
                vs += (a + b) + (c + e);
                var bytes = Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, e));
                (bytes ^ off).Store(q + i);
            }
            sum = Vector256.Sum(vs);
        }
        for (; i < n; i++)
        {
            int v = (int)MathF.Round(x[i] * id);
            sum += v;
            q[i] = (sbyte)(offset128 ? v ^ -128 : v);
        }
        return sum;
    }

    public void Dispose()
    {
        if (Q == null) return;
        NativeMemory.AlignedFree(Q); NativeMemory.AlignedFree(D); NativeMemory.AlignedFree(S); NativeMemory.AlignedFree(QSum);
        if (BSums != null) NativeMemory.AlignedFree(BSums);
        if (_pairs != null) NativeMemory.AlignedFree(_pairs);
        Q = null; D = null; S = null; QSum = null; BSums = null; _pairs = null;
    }
}
