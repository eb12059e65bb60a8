using System.Runtime.InteropServices;

namespace Tessera.Cpu.Quant;

/// <summary>A Q4_0 or Q8_0 weight [N, K] repacked once for the AVX-VNNI kernels (<see cref="PackedQ32Kernels"/>),
/// kept with a constant weight's storage. Rows go in groups of 8 (the last one padded with zero rows); for each
/// group and 32-block the 8 rows' quants are interleaved 4 bytes at a time, so that one 32-byte load feeds a
/// vpdpbusd with all 8 rows' 4-element dot products and the accumulator's lanes are the 8 outputs:
/// <list type="bullet">
/// <item>Q4_0, 128 bytes: vector j (0..3) holds, for row r, bytes 4j..4j+3 of the row's stored block. Its low
/// nibbles are elements 4j..4j+3 and its high nibbles elements 16+4j..16+4j+3, exactly as ggml stores them, so
/// unpacking is one and (and one xor for the high half).</item>
/// <item>Q8_0, 256 bytes: vector j (0..7) holds elements 4j..4j+3 of each row, plus 128 (vpdpbusd multiplies
/// unsigned by signed bytes; the kernel subtracts 128 * sum(x)).</item>
/// </list>
/// Beside the quants, the 8 rows' f16 block scales as stored (16 bytes a group and block): the bytes read per
/// weight are those of the GGUF tensor.</summary>
internal sealed unsafe class PackedQ32 : IDisposable
{
    public const int G = 8;

    public readonly DType Type;
    public readonly int N, Blocks, Groups;
    /// <summary>Bytes of interleaved quants per group and block: 128 (Q4_0) or 256 (Q8_0).</summary>
    public readonly int QBytes;
    public byte* Q;
    public ushort* D;

    public PackedQ32(DType type, byte* w, int n, int k)
    {
        if (type is not (DType.Q4_0 or DType.Q8_0) || k % 32 != 0)
            throw new TesseraException($"PackedQ32: needs a q4_0 or q8_0 weight with K a multiple of 32, got {type.Name()} [{n}, {k}]");
        Type = type; N = n; Blocks = k / 32; Groups = (n + G - 1) / G;
        QBytes = type == DType.Q4_0 ? 128 : 256;
        long qBytes = (long)Groups * Blocks * QBytes, dCount = (long)Groups * Blocks * G;
        Q = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(qBytes, 64), 64);
        D = (ushort*)NativeMemory.AlignedAlloc((nuint)Math.Max(dCount * 2, 64), 64);
        NativeMemory.Clear(Q, (nuint)qBytes);
        NativeMemory.Clear(D, (nuint)(dCount * 2));
        int blockBytes = type == DType.Q4_0 ? 18 : 34, steps = QBytes / 32;
        byte flip = type == DType.Q8_0 ? (byte)0x80 : (byte)0;
        long rowBytes = (long)Blocks * blockBytes;
        for (int j = 0; j < n; j++)
        {
            int g = j / G, r = j % G;
            for (int b = 0; b < Blocks; b++)
            {
                byte* src = w + j * rowBytes + (long)b * blockBytes;
                long gb = (long)g * Blocks + b;
                D[gb * G + r] = *(ushort*)src;
                byte* dst = Q + gb * QBytes + r * 4;
                for (int s = 0; s < steps; s++)
                    for (int t = 0; t < 4; t++) dst[s * 32 + t] = (byte)(src[2 + 4 * s + t] ^ flip);
            }
        }
    }

    /// <summary>The quants of group g, block 0 (blocks follow each other, QBytes apart).</summary>
    public byte* GroupQ(int g) => Q + (long)g * Blocks * QBytes;

    /// <summary>The f16 scales of group g, block 0 (8 per block).</summary>
    public ushort* GroupD(int g) => D + (long)g * Blocks * G;

    public void Dispose()
    {
        if (Q == null) return;
        NativeMemory.AlignedFree(Q); NativeMemory.AlignedFree(D);
        Q = null; D = null;
    }
}
