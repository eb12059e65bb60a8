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

    public QuantizedRows(ActKind kind, int rows, int k, int padRowsTo = 1, bool offset128 = false)
    {
        Kind = kind; K = k; Offset128 = offset128;
        Group = kind switch { ActKind.Row => k, ActKind.Block32 => 32, _ => 256 };
        if (k % Group != 0) throw new TesseraException($"quantized activations: K = {k} is not a multiple of the {Group}-element block");
        Groups = k / Group;
        Rows = (rows + padRowsTo - 1) / padRowsTo * padRowsTo;
        Stride = (k + 3) & ~3;
        Q = (sbyte*)Alloc((long)Rows * Stride);
        NativeMemory.Fill(Q, (nuint)((long)Rows * Stride), offset128 ? (byte)128 : (byte)0);
        D = (float*)Alloc((long)Rows * Groups * 4);
        NativeMemory.Clear(D, (nuint)((long)Rows * Groups * 4));
        S = (float*)Alloc((long)Rows * Groups * 4);
        NativeMemory.Clear(S, (nuint)((long)Rows * Groups * 4));
        QSum = (int*)Alloc((long)Rows * Groups * 4);
        NativeMemory.Clear(QSum, (nuint)((long)Rows * Groups * 4));
        if (kind == ActKind.Block256) BSums = (short*)Alloc((long)Rows * Groups * 16 * 2);
    }

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
        }
    }

    /// <summary>q = round-half-even(x * id) with id = 127 / max|x| (0 for an all-zero group); returns sum(q). The scale d
    /// is ggml's for each kind: Block32 as quantize_row_q8_0 stores it (max|x| / 127 rounded to fp16: the dot products
    /// then use exactly ggml's scale), Block256 as quantize_row_q8_K (1 / id, f32), Row max|x| / 127.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static int QuantizeGroup(float* x, sbyte* q, int n, out float d, bool offset128, ActKind kind)
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
        Q = null; D = null; S = null; QSum = null; BSums = null;
    }
}
