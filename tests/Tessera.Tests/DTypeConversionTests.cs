namespace Tessera.Tests;

/// <summary>dtype conversions are exact where they can be and round to nearest even where they must: bf16 and f16
/// against known values and System.Half, contiguous and strided, and every 16-bit value through f32 and back.</summary>
public class DTypeConversionTests
{
    private static readonly IBackend B = TestBackends.Get("cpu-1t");

    private static float[] Values(Tensor t) => t.ToArray<float>();

    [Fact]
    public void BFloat16RoundKnownValues()
    {
        ushort R(uint bits) => BFloat16.Round(BitConverter.UInt32BitsToSingle(bits));
        Assert.Equal(0x3F80, R(0x3F80_0000));                  // 1
        Assert.Equal(0x3F80, R(0x3F80_8000));                  // 1 + 2^-8: a tie, to the even 1
        Assert.Equal(0x3F82, R(0x3F81_8000));                  // 1 + 3 * 2^-8: a tie, to the even 0x3F82
        Assert.Equal(0x3F81, R(0x3F80_8001));                  // just above the tie rounds up
        Assert.Equal(0x3F80, R(0x3F80_7FFF));                  // just below rounds down
        Assert.Equal(0xBF82, R(0xBF81_8000));                  // ties to even for negatives too
        Assert.Equal(0x7F80, R(0x7F7F_FFFF));                  // float.MaxValue rounds to +inf
        Assert.Equal(0x7F80, R(0x7F80_0000));                  // +inf
        Assert.Equal(0xFF80, R(0xFF80_0000));                  // -inf
        Assert.Equal(0x8000, R(0x8000_0000));                  // -0
        Assert.Equal(0x0000, R(0x0000_8000));                  // subnormal tie to even 0
        Assert.Equal(0x0002, R(0x0001_8000));                  // subnormal tie to even 2
        Assert.True(float.IsNaN(BFloat16.ToSingle(R(0x7F80_0001)))); // a NaN whose payload sits in the low bits stays NaN, not inf
        Assert.True(float.IsNaN(BFloat16.ToSingle(R(0xFFC0_0000))));
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.Round(float.NaN))));
        Assert.Equal(1.5f, (float)(BFloat16)1.5f);
        Assert.Equal(3.140625f, (float)(BFloat16)3.14159265f);
    }

    /// <summary>Values that probe rounding: ties both ways, just off ties, subnormals, overflow, infinities, NaN.</summary>
    private static float[] Probes()
    {
        var bits = new uint[] { 0x3F80_0000, 0x3F80_8000, 0x3F81_8000, 0x3F80_8001, 0x3F80_7FFF, 0xBF81_8000, 0x7F7F_FFFF,
            0x7F80_0000, 0xFF80_0000, 0x8000_0000, 0x0000_8000, 0x0001_8000, 0x7F80_0001, 0x7FC0_0000, 0x0000_0001,
            0x3F80_1000, 0x3F80_3000, 0x477F_F000, 0x477F_E000, 0x3880_0000, 0x3300_0000, 0x3300_0001 };
        var rng = new Random(5);
        // Pad past a few vector widths so that both the vector body and the scalar tail convert probes.
        return bits.Select(BitConverter.UInt32BitsToSingle)
            .Concat(Enumerable.Range(0, 75).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-30, 30))))).ToArray();
    }

    [Fact]
    public void F32ToBf16RoundsToNearestEvenContiguousAndStrided()
    {
        var probes = Probes();
        var expected = probes.Select(BFloat16.Round).ToArray();
        using var t = Tensor.FromArray(B, probes, probes.Length);
        using var b = t.To(DType.BF16);
        AssertBf16(expected, b.ToArray<BFloat16>().Select(x => x.Bits).ToArray());
        // Strided: the probes as column 1 of a [n, 3] tensor, read through a view.
        var wide = new float[probes.Length * 3];
        for (int i = 0; i < probes.Length; i++) wide[i * 3 + 1] = probes[i];
        using var w = Tensor.FromArray(B, wide, probes.Length, 3);
        using var col = w.Select(1, 1);
        using var bs = col.To(DType.BF16);
        AssertBf16(expected, bs.ToArray<BFloat16>().Select(x => x.Bits).ToArray());
    }

    private static void AssertBf16(ushort[] expected, ushort[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(BFloat16.ToSingle(expected[i]))) Assert.True(float.IsNaN(BFloat16.ToSingle(actual[i])), $"element {i}: expected NaN, got 0x{actual[i]:X4}");
            else Assert.True(expected[i] == actual[i], $"element {i}: expected 0x{expected[i]:X4}, got 0x{actual[i]:X4}");
        }
    }

    [Fact]
    public void F32ToF16RoundsLikeSystemHalf()
    {
        var probes = Probes();
        var expected = probes.Select(f => (Half)f).ToArray();
        using var t = Tensor.FromArray(B, probes, probes.Length);
        using var h = t.To(DType.F16);
        var got = h.ToArray<Half>();
        using var back = h.To(DType.F32);
        var f32 = back.ToArray<float>();
        for (int i = 0; i < probes.Length; i++)
        {
            if (Half.IsNaN(expected[i])) { Assert.True(Half.IsNaN(got[i])); Assert.True(float.IsNaN(f32[i])); continue; }
            Assert.True(expected[i] == got[i] && BitConverter.HalfToUInt16Bits(expected[i]) == BitConverter.HalfToUInt16Bits(got[i]), $"element {i} ({probes[i]:R}): expected {expected[i]}, got {got[i]}");
            Assert.Equal((float)expected[i], f32[i]);
        }
        // Strided source.
        var wide = new float[probes.Length * 2];
        for (int i = 0; i < probes.Length; i++) wide[i * 2] = probes[i];
        using var w = Tensor.FromArray(B, wide, probes.Length, 2);
        using var col = w.Select(1, 0);
        using var hs = col.To(DType.F16);
        var gs = hs.ToArray<Half>();
        for (int i = 0; i < probes.Length; i++)
            Assert.True(Half.IsNaN(expected[i]) ? Half.IsNaN(gs[i]) : BitConverter.HalfToUInt16Bits(expected[i]) == BitConverter.HalfToUInt16Bits(gs[i]), $"strided element {i}");
    }

    [Fact]
    public void EverySixteenBitValueRoundTripsThroughF32()
    {
        var halves = Enumerable.Range(0, 65536).Select(i => BitConverter.UInt16BitsToHalf((ushort)i)).ToArray();
        using var h = Tensor.FromArray(B, halves, 256, 256);
        using var hf = h.To(DType.F32);
        using var hh = hf.To(DType.F16);
        var f = hf.ToArray<float>();
        var back = hh.ToArray<Half>();
        for (int i = 0; i < 65536; i++)
        {
            if (Half.IsNaN(halves[i])) { Assert.True(float.IsNaN(f[i]) && Half.IsNaN(back[i]), $"f16 0x{i:X4}"); continue; }
            Assert.True((float)halves[i] == f[i] && BitConverter.HalfToUInt16Bits(back[i]) == i, $"f16 0x{i:X4}");
        }

        var bf = Enumerable.Range(0, 65536).Select(i => new BFloat16((ushort)i)).ToArray();
        using var b = Tensor.FromArray(B, bf, 256, 256);
        using var bfF = b.To(DType.F32);
        using var bb = bfF.To(DType.BF16);
        var bf32 = bfF.ToArray<float>();
        var bback = bb.ToArray<BFloat16>();
        for (int i = 0; i < 65536; i++)
        {
            float exact = BitConverter.UInt32BitsToSingle((uint)i << 16);
            if (float.IsNaN(exact)) { Assert.True(float.IsNaN(bf32[i]) && float.IsNaN(BFloat16.ToSingle(bback[i].Bits)), $"bf16 0x{i:X4}"); continue; }
            Assert.True(BitConverter.SingleToUInt32Bits(bf32[i]) == BitConverter.SingleToUInt32Bits(exact) && bback[i].Bits == i, $"bf16 0x{i:X4}");
        }
    }
}
