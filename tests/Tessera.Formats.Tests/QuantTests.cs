using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tessera.Quant;

namespace Tessera.Formats.Tests;

public class QuantTests
{
    // ggml-common.h's static_asserts on the block sizes.
    [Fact]
    public void BlockSizesMatchGgml()
    {
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(20, Unsafe.SizeOf<BlockQ4_1>());
        Assert.Equal(2 * 2 + 12 + 128, Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(128 + 64 + 16 + 2, Unsafe.SizeOf<BlockQ6_K>());
        Assert.Equal(4 + 256 + 16 * 2, Unsafe.SizeOf<BlockQ8_K>());
        foreach (var (t, size) in new[] { (DType.Q8_0, 34), (DType.Q4_0, 18), (DType.Q4_1, 20), (DType.Q4_K, 144), (DType.Q6_K, 210), (DType.Q8_K, 292) })
            Assert.Equal(size, t.BlockBytes());
        // Field offsets where they matter: Q6_K's scale is last, Q8_K's sums follow the quants.
        Assert.Equal(208, (int)Marshal.OffsetOf<BlockQ6_K>(nameof(BlockQ6_K.D)));
        Assert.Equal(260, (int)Marshal.OffsetOf<BlockQ8_K>(nameof(BlockQ8_K.BSums)));
        Assert.Equal(16, (int)Marshal.OffsetOf<BlockQ4_K>(nameof(BlockQ4_K.Qs)));
    }

    /// <summary>test-quantize-fns.cpp's synthetic data: 0.1 + 2 cos(i + offset).</summary>
    internal static float[] Synthetic(int n, float offset = 0, float amplitude = 2f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(0.1 + amplitude * MathF.Cos(i + offset));
        return x;
    }

    /// <summary>test-quantize-fns.cpp's array_rmse: sqrt(sum of squares) / n (sic).</summary>
    private static float GgmlRmse(float[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) { double d = a[i] - b[i]; sum += d * d; }
        return MathF.Sqrt((float)sum) / a.Length;
    }

    // MAX_QUANTIZATION_TOTAL_ERROR = 0.002 for all of these in ggml's tests/test-quantize-fns.cpp (0.0075 is for 2-bit).
    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q4_1)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    [InlineData(DType.Q8_K)]
    public void RoundTripErrorWithinGgmlBound(DType type)
    {
        const int n = 32 * 128; // test-quantize-fns' test_size
        var x = Synthetic(n);
        var q = new byte[type.ByteCount(n)];
        BlockQuant.Quantize(type, x, q);
        var y = new float[n];
        BlockQuant.Dequantize(type, q, y);
        float err = GgmlRmse(x, y);
        Assert.True(err < 0.002f, $"{type}: total quantization error {err} >= 0.002");
    }

    [Fact]
    public void Q8_0GoldenBlock()
    {
        // 32 values -1..1 in steps of 2/31 with max |x| = 1.27: d = 0.01, q = round(x / 0.01).
        var x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = i == 5 ? -1.27f : (i - 16) * 0.02f;
        var q = new byte[34];
        BlockQuant.Quantize(DType.Q8_0, x, q);
        float d = -1.27f / -127f;
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)(1.27f / 127)), BitConverter.ToUInt16(q, 0));
        for (int i = 0; i < 32; i++)
            Assert.Equal((sbyte)MathF.Round(x[i] * (1f / d), MidpointRounding.AwayFromZero), (sbyte)q[2 + i]);
        Assert.Equal(-127, (sbyte)q[2 + 5]);
        Assert.Equal(-32, (sbyte)q[2 + 0]); // -0.32 / 0.01
    }

    [Fact]
    public void Q4_0GoldenBlock()
    {
        // Largest magnitude is -4 at index 3: d = -4 / -8 = 0.5; q = min(15, trunc(x / 0.5 + 8.5)).
        var x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = (i % 8) * 0.5f - 2f; // -2 .. 1.5
        x[3] = -4f;
        x[20] = 3.9f;
        var q = new byte[18];
        BlockQuant.Quantize(DType.Q4_0, x, q);
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)0.5f), BitConverter.ToUInt16(q, 0));
        // element 3 -> -8 + 8.5 = 0.5 -> 0 (low nibble of byte 3); element 19 = -0.5 -> -1 + 8.5 -> 7 (high nibble of byte 3)
        Assert.Equal(0x0, q[2 + 3] & 0xF);
        Assert.Equal(7, q[2 + 3] >> 4);
        // element 20 = 3.9 -> 7.8 + 8.5 = 16.3 -> clamped to 15 (high nibble of byte 4); element 4 = 0 -> 8
        Assert.Equal(15, q[2 + 4] >> 4);
        Assert.Equal(8, q[2 + 4] & 0xF);
        var y = new float[32];
        BlockQuant.Dequantize(DType.Q4_0, q, y);
        Assert.Equal(-4f, y[3]);
        Assert.Equal(3.5f, y[20]);
        Assert.Equal(-0.5f, y[19]);
    }

    [Fact]
    public void Q4_1GoldenBlock()
    {
        // min 1, max 16: d = 1, values land exactly on 1 + q.
        var x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = 1 + (i % 16);
        var q = new byte[20];
        BlockQuant.Quantize(DType.Q4_1, x, q);
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)1f), BitConverter.ToUInt16(q, 0));
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)1f), BitConverter.ToUInt16(q, 2));
        for (int j = 0; j < 16; j++) Assert.Equal((byte)(j | (j << 4)), q[4 + j]);
        var y = new float[32];
        BlockQuant.Dequantize(DType.Q4_1, q, y);
        Assert.Equal(x, y);
    }

    [Fact]
    public void Q4_KScalePackingFollowsGetScaleMinK4()
    {
        // Hand-packed scales: sub-blocks 0..3 in the low 6 bits of bytes 0..3 (mins in 4..7); sub-blocks 4..7 split
        // into low nibbles in bytes 8..11 and the top 2 bits in bits 6..7 of bytes 0..7.
        var s = new byte[12];
        byte[] sc = [1, 2, 3, 63, 17, 33, 48, 62], mn = [5, 6, 7, 8, 40, 9, 63, 20];
        for (int j = 0; j < 8; j++)
        {
            if (j < 4) { s[j] = sc[j]; s[j + 4] = mn[j]; }
            else
            {
                s[j + 4] = (byte)((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
                s[j - 4] |= (byte)((sc[j] >> 4) << 6);
                s[j] |= (byte)((mn[j] >> 4) << 6);
            }
        }
        for (int j = 0; j < 8; j++)
        {
            BlockQuant.GetScaleMinK4(j, s, out byte d, out byte m);
            Assert.Equal(sc[j], d);
            Assert.Equal(mn[j], m);
        }

        // One block with d = 1, dmin = 0.5: element l of sub-block 2 (first half of the second 32-byte group) is
        // sc[2] * q - 0.5 * mn[2].
        var block = new byte[144];
        BitConverter.TryWriteBytes(block.AsSpan(0), BitConverter.HalfToUInt16Bits((Half)1f));
        BitConverter.TryWriteBytes(block.AsSpan(2), BitConverter.HalfToUInt16Bits((Half)0.5f));
        s.CopyTo(block, 4);
        for (int i = 0; i < 128; i++) block[16 + i] = (byte)((i % 16) | ((15 - i % 16) << 4));
        var y = new float[256];
        BlockQuant.Dequantize(DType.Q4_K, block, y);
        for (int l = 0; l < 32; l++)
        {
            Assert.Equal(3f * (l % 16) - 0.5f * 7, y[64 + l]);              // sub-block 2: low nibbles of bytes 32..63
            Assert.Equal(62f * (15 - l % 16) - 0.5f * 20, y[224 + l]);      // sub-block 7: high nibbles of bytes 96..127
        }
    }

    [Fact]
    public void Q6_KGoldenBlock()
    {
        // d = 0.25, scales[i] = i + 1, every quant 32 + 5 (ql low nibble 5, qh bits 0b10 -> 5 | 2 << 4 = 37 -> q = 5).
        var block = new byte[210];
        for (int i = 0; i < 128; i++) block[i] = 0x55;
        for (int i = 0; i < 64; i++) block[128 + i] = 0b1010_1010;
        for (int i = 0; i < 16; i++) block[192 + i] = (byte)(sbyte)(i + 1);
        BitConverter.TryWriteBytes(block.AsSpan(208), BitConverter.HalfToUInt16Bits((Half)0.25f));
        var y = new float[256];
        BlockQuant.Dequantize(DType.Q6_K, block, y);
        for (int i = 0; i < 256; i++) Assert.Equal(0.25f * (i / 16 + 1) * 5, y[i]);
    }

    [Fact]
    public void Q8_KSumsAndScale()
    {
        var x = Synthetic(512, 1.5f);
        var q = new byte[DType.Q8_K.ByteCount(512)];
        BlockQuant.Quantize(DType.Q8_K, x, q);
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_K>(q);
        for (int b = 0; b < 2; b++)
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += (sbyte)q[b * 292 + 4 + g * 16 + i];
                Assert.Equal(sum, BitConverter.ToInt16(q, b * 292 + 260 + g * 2));
            }
        Assert.True(blocks[0].D != 0);
    }

    [Fact]
    public void AllZeroBlocksQuantizeToZero()
    {
        foreach (var t in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q4_K, DType.Q6_K, DType.Q8_K })
        {
            var q = new byte[t.ByteCount(256)];
            BlockQuant.Quantize(t, new float[256], q);
            var y = new float[256];
            BlockQuant.Dequantize(t, q, y);
            Assert.All(y, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void SizeMismatchIsRefused()
    {
        Assert.Throws<TesseraException>(() => BlockQuant.Quantize(DType.Q4_0, new float[33], new byte[36]));
        Assert.Throws<TesseraException>(() => BlockQuant.Quantize(DType.Q4_0, new float[32], new byte[17]));
        Assert.Throws<TesseraException>(() => BlockQuant.Dequantize(DType.Q4_K, new byte[144], new float[255]));
        Assert.Throws<TesseraException>(() => BlockQuant.Quantize(DType.I8, new float[4], new byte[4]));
    }

    [Fact]
    public void Int8RowsRoundTrip()
    {
        int rows = 5, cols = 37;
        var x = Synthetic(rows * cols, 0.3f);
        for (int j = 0; j < cols; j++) x[2 * cols + j] = 0; // an all-zero row gets scale 0
        var q = new sbyte[rows * cols];
        var s = new float[rows];
        Int8Quant.QuantizeRows(x, rows, cols, q, s);
        Assert.Equal(0f, s[2]);
        var y = new float[rows * cols];
        Int8Quant.DequantizeRows(q, s, rows, cols, y);
        for (int r = 0; r < rows; r++)
        {
            float amax = 0;
            for (int j = 0; j < cols; j++) amax = MathF.Max(amax, MathF.Abs(x[r * cols + j]));
            Assert.Equal(amax / 127, s[r]);
            for (int j = 0; j < cols; j++)
            {
                Assert.InRange(q[r * cols + j], -127, 127);
                Assert.True(MathF.Abs(x[r * cols + j] - y[r * cols + j]) <= s[r] * 0.5f * 1.0001f);
            }
        }
    }
}
