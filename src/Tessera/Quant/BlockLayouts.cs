using System.Runtime.InteropServices;

namespace Tessera.Quant;

// Byte-exact copies of ggml's quantization blocks (ggml/src/ggml-common.h). Pack = 1 so that no field is padded:
// ggml pins the same sizes with static_asserts, and tests/Tessera.Formats.Tests checks ours against them and against
// the sizes libggml reports.

/// <summary>Block sizes shared by the GGUF block formats.</summary>
public static class QuantBlocks
{
    /// <summary>Elements in one block of the "legacy" formats Q8_0, Q4_0 and Q4_1 (ggml's QK8_0, QK4_0, QK4_1).</summary>
    public const int QK = 32;

    /// <summary>Elements in one super-block of the K-quant formats Q4_K, Q6_K and Q8_K (ggml's QK_K).</summary>
    public const int QK_K = 256;

    /// <summary>Bytes in the packed 6-bit scales and minimums of Q4_K and Q5_K (ggml's K_SCALE_SIZE).</summary>
    public const int KScaleSize = 12;
}

/// <summary>ggml's <c>block_q8_0</c>: 32 weights <c>x = d * qs[i]</c> (34 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_0
{
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Quants.</summary>
    public fixed sbyte Qs[QuantBlocks.QK];
}

/// <summary>ggml's <c>block_q4_0</c>: 32 weights <c>x = (q - 8) * d</c>; byte j holds element j in its low nibble and
/// element j + 16 in its high nibble (18 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_0
{
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Nibbles: low = elements 0..15, high = elements 16..31.</summary>
    public fixed byte Qs[QuantBlocks.QK / 2];
}

/// <summary>ggml's <c>block_q4_1</c>: 32 weights <c>x = q * d + m</c>, nibbles as in <see cref="BlockQ4_0"/> (20 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_1
{
    /// <summary>Scale.</summary>
    public Half D;
    /// <summary>Minimum.</summary>
    public Half M;
    /// <summary>Nibbles: low = elements 0..15, high = elements 16..31.</summary>
    public fixed byte Qs[QuantBlocks.QK / 2];
}

/// <summary>ggml's <c>block_q4_K</c>: 256 weights in 8 sub-blocks of 32, <c>x = d * sc * q - dmin * m</c> with 6-bit
/// <c>sc</c>, <c>m</c> packed in <see cref="Scales"/> (see <see cref="BlockQuant.GetScaleMinK4"/>); each 32-byte group of
/// <see cref="Qs"/> holds two sub-blocks, the first in the low nibbles (144 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_K
{
    /// <summary>Super-block scale of the quantized scales.</summary>
    public Half D;
    /// <summary>Super-block scale of the quantized minimums.</summary>
    public Half DMin;
    /// <summary>Scales and minimums, 6 bits each.</summary>
    public fixed byte Scales[QuantBlocks.KScaleSize];
    /// <summary>4-bit quants.</summary>
    public fixed byte Qs[QuantBlocks.QK_K / 2];
}

/// <summary>ggml's <c>block_q6_K</c>: 256 weights in 16 sub-blocks of 16, <c>x = d * scales[i] * (q - 32)</c> with 6-bit
/// q split into low 4 bits (<see cref="Ql"/>) and high 2 bits (<see cref="Qh"/>) (210 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ6_K
{
    /// <summary>Low 4 bits of the quants.</summary>
    public fixed byte Ql[QuantBlocks.QK_K / 2];
    /// <summary>High 2 bits of the quants.</summary>
    public fixed byte Qh[QuantBlocks.QK_K / 4];
    /// <summary>Sub-block scales, 8 bits.</summary>
    public fixed sbyte Scales[QuantBlocks.QK_K / 16];
    /// <summary>Super-block scale.</summary>
    public Half D;
}

/// <summary>ggml's <c>block_q8_K</c>: 256 values <c>x = d * qs[i]</c> with the sums of each 16 quants, the activation
/// format of the K-quant dot products (292 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_K
{
    /// <summary>Scale (f32, unlike the other blocks).</summary>
    public float D;
    /// <summary>Quants.</summary>
    public fixed sbyte Qs[QuantBlocks.QK_K];
    /// <summary>Sum of each group of 16 quants.</summary>
    public fixed short BSums[QuantBlocks.QK_K / 16];
}
