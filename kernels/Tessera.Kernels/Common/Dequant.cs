using ILGPU;
using ILGPU.Runtime.Cuda;
using Half = ILGPU.Half;

namespace Tessera.Kernels;

/// <summary>Weight type codes of the quantized matmul: the values of Tessera's DType (checked by a test).</summary>
public static class QuantCodes
{
    public const int I8 = 3, Q8_0 = 7, Q4_0 = 8, Q4_1 = 9, Q4_K = 10, Q6_K = 11;

    /// <summary>Bytes of one block (one weight for I8).</summary>
    public static int BlockBytes(int t) =>
        t == Q8_0 ? 34 : t == Q4_0 ? 18 : t == Q4_1 ? 20 : t == Q4_K ? 144 : t == Q6_K ? 210 : 1;

    /// <summary>Elements of one block.</summary>
    public static int BlockSize(int t) => t == Q4_K || t == Q6_K ? 256 : t == I8 ? 1 : 32;
}

/// <summary>Reading ggml's block formats in place from byte memory, 8 weights (a "chunk") at a time: chunk c (0..3)
/// of the 32-element unit u of a weight row. A unit is a whole block for Q8_0/Q4_0/Q4_1, a sub-block of 32 for the
/// 256-element K formats, 32 weights of an I8 row. Loads are as wide as the block's alignment allows: Q8_0, Q4_0 and
/// Q6_K blocks (34, 18, 210 bytes) are only 2-byte aligned, so they are read as ushort pairs; Q4_1 and Q4_K as ints.
/// The integer paths return the packed bytes for dp4a; the float path (GEMM tiles) writes 8 dequantized values.</summary>
public static class Dequant
{
    /// <summary>c + the sum of the 4 signed byte products of a and b: PTX dp4a on the GPU (sm_61+), the same sum in
    /// plain C# elsewhere (ILGPU's CPU accelerator, which runs the fallback; CudaAsm.IsSupported is a compile-time
    /// constant per backend, so each build keeps only one side).</summary>
    public static int Dp4a(int a, int b, int c)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("dp4a.s32.s32 %0, %1, %2, %3;", out int r, a, b, c);
            return r;
        }
        return c + (sbyte)a * (sbyte)b + (sbyte)(a >> 8) * (sbyte)(b >> 8)
            + (sbyte)(a >> 16) * (sbyte)(b >> 16) + (a >> 24) * (b >> 24);
    }

    /// <summary>Round to the nearest integer, ties to even, as the CPU's vcvtps2dq and MathF.Round do: one cvt.rni
    /// on the GPU (ILGPU would otherwise expand MathF.Round into a software routine the CPU accelerator never runs).</summary>
    public static int RoundEven(float v)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("cvt.rni.s32.f32 %0, %1;", out int r, v);
            return r;
        }
        return (int)MathF.Round(v);
    }

    /// <summary>The 4 bytes at a 2-byte-aligned byte offset, little-endian.</summary>
    public static int Int2(ArrayView<byte> buf, long at)
    {
        var u = buf.Cast<ushort>();
        long i = at >> 1;
        return u[i] | (u[i + 1] << 16);
    }

    /// <summary>The 4 bytes at a 4-byte-aligned byte offset.</summary>
    public static int Int4(ArrayView<byte> buf, long at) => buf.Cast<int>()[at >> 2];

    /// <summary>The 4 bytes at any byte offset (I8 rows of odd length), bytes past <paramref name="end"/> read 0.</summary>
    public static int IntAny(ArrayView<byte> buf, long at, long end)
    {
        if ((at & 3) == 0 && at + 4 <= end) return Int4(buf, at);
        int v = 0;
        if (at < end) v = buf[at];
        if (at + 1 < end) v |= buf[at + 1] << 8;
        if (at + 2 < end) v |= buf[at + 2] << 16;
        if (at + 3 < end) v |= buf[at + 3] << 24;
        return v;
    }

    public static float F16(ArrayView<byte> buf, long at) => (float)buf.Cast<Half>()[at >> 1];

    /// <summary>ggml's get_scale_min_k4: 6-bit scale and minimum j (0..7) of a Q4_K block from its 12 packed bytes.</summary>
    public static void ScaleMinK4(ArrayView<byte> w, long scales, int j, out int sc, out int m)
    {
        if (j < 4)
        {
            sc = w[scales + j] & 63;
            m = w[scales + j + 4] & 63;
        }
        else
        {
            sc = (w[scales + j + 4] & 0xF) | ((w[scales + j - 4] >> 6) << 4);
            m = (w[scales + j + 4] >> 4) | ((w[scales + j] >> 6) << 4);
        }
    }

    /// <summary>Chunk c of unit u of the weight row starting at byte <paramref name="row"/>, as two ints of 4
    /// unsigned-or-signed bytes each (weights 8c..8c+3 and 8c+4..8c+7 of the unit), the affine map from those
    /// bytes to weights (w = scale * byte + offset * scaleOfOffset, see below), for the integer dot products.
    /// Returns: <paramref name="w0"/>, <paramref name="w1"/> the bytes; <paramref name="scale"/> multiplies
    /// dot(bytes, q); <paramref name="bias"/> multiplies sum(q). (Weights beyond K of an I8 row read 0.)</summary>
    public static void Chunk(int t, ArrayView<byte> w, long row, int k, int u, int c,
        out int w0, out int w1, out float scale, out float bias)
    {
        if (t == QuantCodes.Q8_0)
        {
            long b = row + (long)u * 34;
            w0 = Int2(w, b + 2 + 8 * c);
            w1 = Int2(w, b + 6 + 8 * c);
            scale = F16(w, b);
            bias = 0f;
        }
        else if (t == QuantCodes.Q4_0 || t == QuantCodes.Q4_1)
        {
            // Chunk c: the nibble bytes 4c..4c+3 give weights 4c.. (low nibbles) and 16+4c.. (high nibbles); so a
            // chunk's 8 weights are not contiguous: the caller pairs w0 with q[4c..] and w1 with q[16+4c..].
            bool q41 = t == QuantCodes.Q4_1;
            long b = row + (long)u * (q41 ? 20 : 18);
            int v = q41 ? Int4(w, b + 4 + 4 * c) : Int2(w, b + 2 + 4 * c);
            w0 = v & 0x0F0F0F0F;
            w1 = (v >> 4) & 0x0F0F0F0F;
            float d = F16(w, b);
            scale = d;
            bias = q41 ? F16(w, b + 2) : -8f * d;
        }
        else if (t == QuantCodes.Q4_K)
        {
            // Sub-block j = u % 8 of super-block u / 8: nibbles (low for even j, high for odd) of qs[32 (j/2) + l].
            long b = row + (long)(u >> 3) * 144;
            int j = u & 7;
            long at = b + 16 + 32 * (j >> 1) + 8 * c;
            int sh = 4 * (j & 1);
            w0 = (Int4(w, at) >> sh) & 0x0F0F0F0F;
            w1 = (Int4(w, at + 4) >> sh) & 0x0F0F0F0F;
            ScaleMinK4(w, b + 4, j, out int sc, out int m);
            scale = F16(w, b) * sc;
            bias = -(F16(w, b + 2) * m);
        }
        else if (t == QuantCodes.Q6_K)
        {
            // Unit u: super-block u / 8, half h = (u % 8) / 4 (128 weights), part p = u % 4 (32 weights): low 4 bits
            // from ql[64h + 32 (p & 1) + l] (low nibble for p < 2), high 2 bits from qh[32h + l] >> 2p; value
            // d * scale[8h + 2p + l / 16] * (q - 32).
            long b = row + (long)(u >> 3) * 210;
            int h = (u >> 2) & 1, p = u & 3;
            long ql = b + 64 * h + 32 * (p & 1) + 8 * c, qh = b + 128 + 32 * h + 8 * c;
            int lsh = 4 * (p >> 1), hsh = 2 * p;
            w0 = ((Int2(w, ql) >> lsh) & 0x0F0F0F0F) | (((Int2(w, qh) >> hsh) & 0x03030303) << 4);
            w1 = ((Int2(w, ql + 4) >> lsh) & 0x0F0F0F0F) | (((Int2(w, qh + 4) >> hsh) & 0x03030303) << 4);
            float d = F16(w, b + 208) * (sbyte)w[b + 192 + 8 * h + 2 * p + (c >> 1)];
            scale = d;
            bias = -32f * d;
        }
        else
        {
            // I8: 8 weights at 32u + 8c; the per-row scale is applied by the caller.
            long end = row + k, at = row + 32L * u + 8 * c;
            w0 = IntAny(w, at, end);
            w1 = IntAny(w, at + 4, end);
            scale = 1f;
            bias = 0f;
        }
    }

    /// <summary>Byte offset, inside a unit of 32 quantized activations, of the 4 activations paired with w0 of chunk c
    /// (w1 pairs with the 4 after them, or for Q4_0/Q4_1 with the 4 at +16).</summary>
    public static int X0(int c, bool nibblePairs) => nibblePairs ? 4 * c : 8 * c;

    public static int X1(int c, bool nibblePairs) => nibblePairs ? 16 + 4 * c : 8 * c + 4;

    /// <summary>Byte i (0..3) of a packed int as a signed or unsigned value.</summary>
    public static int SByteAt(int v, int i) => (sbyte)(v >> (8 * i));
}
