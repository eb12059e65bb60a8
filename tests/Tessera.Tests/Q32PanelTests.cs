using Tessera.Cpu;
using Tessera.Cpu.Quant;

namespace Tessera.Tests;

/// <summary>The Q8_0/Q4_0 panel path's parts against their scalar definitions in Q32Panels.cs: the managed kernels
/// bit for bit against <see cref="Q32PanelReference"/> (random panels with every byte value, f16 scales from
/// subnormal to inf, 1..9 blocks, 1..3 panels, every LastCols, 1..8 rows, both formats), the fast repack byte for byte
/// against <see cref="Q32Panels.Repack"/>, and the fused activation records against QuantizedRows + Fill. The matmul
/// on this path is compared with the naive product in the op table (OpTable.Quantized.cs, the "constant" rows) and
/// for batch invariance in BatchInvarianceTests.</summary>
public unsafe class Q32PanelTests
{
    public static TheoryData<DType, int> FormatsAndRows()
    {
        var d = new TheoryData<DType, int>();
        foreach (var t in new[] { DType.Q4_0, DType.Q8_0 })
            for (int r = 1; r <= 8; r++) d.Add(t, r);
        return d;
    }

    [SkippableTheory]
    [MemberData(nameof(FormatsAndRows))]
    public void Managed_kernel_equals_the_reference_bit_for_bit(DType t, int rows)
    {
        Skip.IfNot(Q32PanelKernels.Supported, "the managed panel kernels need AVX-512BW");
        var rng = new Random(100 * rows + (int)t);
        foreach (int blocks in new[] { 1, 2, 3, 5, 9 })
            for (int panels = 1; panels <= 3; panels++)
            {
                int lastCols = blocks == 1 ? 1 + (panels * 5 + rows) % 16 : rng.Next(1, 17);
                if (blocks == 9 && panels == 3) lastCols = 16;
                Check(t, rows, blocks, panels, lastCols, rng, withInf: blocks == 3);
            }
        for (int lastCols = 1; lastCols <= 16; lastCols++) Check(t, rows, 2, 1, lastCols, rng, withInf: false);
    }

    private static void Check(DType t, int rows, int blocks, int panels, int lastCols, Random rng, bool withInf)
    {
        long panelBytes = Q32Panels.PanelBytes(t, blocks);
        var weights = new byte[panels * panelBytes];
        rng.NextBytes(weights);
        int qb = Q32Panels.QuantBytes(t);
        for (int p = 0; p < panels; p++)
            for (int b = 0; b < blocks; b++)
                for (int j = 0; j < 16; j++)
                {
                    // Scales from subnormal to large; with withInf a few infinities (an exact converter keeps them).
                    float v = (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(2, rng.Next(-24, 12));
                    Half h = withInf && rng.Next(40) == 0 ? Half.PositiveInfinity : (Half)v;
                    BitConverter.TryWriteBytes(weights.AsSpan((int)(p * panelBytes + (long)b * Q32Panels.BlockBytes(t) + qb + 2 * j)), BitConverter.HalfToUInt16Bits(h));
                }
        long blockStride = rows * 40 + 8 * rng.Next(0, 3);
        var act = new byte[blocks * blockStride];
        for (int b = 0; b < blocks; b++)
            for (int r = 0; r < rows; r++)
            {
                int at = (int)(b * blockStride + r * 40), sum = 0;
                for (int e = 0; e < 32; e++) { sbyte q = (sbyte)rng.Next(-128, 128); act[at + e] = (byte)q; sum += q; }
                BitConverter.TryWriteBytes(act.AsSpan(at + 32), -Q32Panels.Offset(t) * sum);
                BitConverter.TryWriteBytes(act.AsSpan(at + 36), (float)(Half)(rng.NextDouble() * MathF.Pow(2, rng.Next(-14, 4))));
            }
        long dstStride = panels * 16 + 5;
        var got = Enumerable.Repeat(-7.25f, (int)(rows * dstStride)).ToArray();
        var want = (float[])got.Clone();
        fixed (byte* w = weights, a = act)
        fixed (float* g = got, wd = want)
        {
            var args = new QPanelArgs { Weights = w, Act = a, Dst = wd, ActBlockStride = blockStride, DstRowStride = dstStride, PanelBytes = panelBytes, Blocks = blocks, Panels = panels, LastCols = lastCols };
            Q32PanelReference.Run(t, rows, &args);
            args.Dst = g;
            Q32PanelKernels.Managed(t, rows)(&args);
        }
        for (int i = 0; i < got.Length; i++)
        {
            bool same = BitConverter.SingleToInt32Bits(got[i]) == BitConverter.SingleToInt32Bits(want[i]) || (float.IsNaN(got[i]) && float.IsNaN(want[i]));
            Assert.True(same, $"{t}, {rows} rows, {blocks} blocks, {panels} panels, LastCols {lastCols}: row {i / dstStride} col {i % dstStride} is {got[i]:R}, the reference {want[i]:R}");
        }
    }

    [Theory]
    [InlineData(DType.Q4_0, 1, 32)]
    [InlineData(DType.Q4_0, 17, 96)]
    [InlineData(DType.Q4_0, 64, 288)]
    [InlineData(DType.Q8_0, 15, 64)]
    [InlineData(DType.Q8_0, 16, 32)]
    [InlineData(DType.Q8_0, 40, 160)]
    public void Fast_repack_writes_the_bytes_of_the_scalar_repack(DType t, int n, int k)
    {
        var src = new byte[t.ByteCount((long)n * k)];
        new Random(n * k).NextBytes(src);
        int blocks = k / 32, panels = Q32Panels.Panels(n);
        var want = new byte[panels * Q32Panels.PanelBytes(t, blocks)];
        var got = new byte[want.Length];
        int lastCols;
        fixed (byte* s = src, d = want)
        {
            using var fast = Q32PanelWeight.Repack(t, s, n, k, threads: 2);
            Q32Panels.Repack(t, s, t.ByteCount(k), n, blocks, d, 0, panels);
            new ReadOnlySpan<byte>(fast.Data, want.Length).CopyTo(got);
            lastCols = fast.LastCols;
        }
        int diff = got.SequenceCompareTo(want) == 0 ? -1 : Enumerable.Range(0, want.Length).First(i => got[i] != want[i]);
        Assert.True(diff < 0, $"{t} [{n}, {k}]: byte {diff} is {(diff < 0 ? 0 : got[diff])}, the scalar repack wrote {(diff < 0 ? 0 : want[diff])}");
        Assert.Equal(n - 16 * (panels - 1), lastCols);
    }

    [Theory]
    [InlineData(1, 32, 128)]
    [InlineData(3, 96, 8)]
    [InlineData(13, 256, 128)]
    public void Fused_records_equal_quantized_rows_then_fill(int m, int k, int offset)
    {
        var rng = new Random(m + k);
        var x = new float[m * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 97 == 0 ? 40 : 1);
        x[0] = 127; x[1] = 2.5f; x[2] = -3.5f; x[3] = 0.5f; // 127 / max|x| = 1: ties, rounded half to even
        if (m > 1) Array.Clear(x, k, 32);                                  // an all-zero block
        int blocks = k / 32;
        using var fused = new Q32PanelActs(m, blocks);
        using var xq = new QuantizedRows(ActKind.Block32, m, k);
        var want = new byte[blocks * fused.BlockStride];
        fixed (float* xp = x)
        fixed (byte* wp = want)
        {
            fused.Quantize(xp, offset, 0, m);
            xq.Quantize(xp, 0, m);
            Q32ActRecords.Fill(xq, offset, wp, fused.BlockStride);
        }
        var got = new ReadOnlySpan<byte>(fused.Row(0), want.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(got[i] == want[i], $"[{m}, {k}]: byte {i % fused.BlockStride} of block {i / fused.BlockStride}'s records is {got[i]}, Fill wrote {want[i]}");
    }
}
