using System.Runtime.InteropServices;
using Tessera.Cpu.Quant;

namespace Tessera.Tests;

/// <summary>Cases for the panel kernels (emitted and managed) against the contract's scalar
/// <see cref="Q32PanelReference"/>, compared bit for bit on poisoned outputs.</summary>
internal static unsafe class PanelKernelCases
{
    private const uint Poison = 0x7FC0DEAD;   // a NaN no kernel computes

    /// <summary>The odd panel stride <see cref="RandomCases"/> uses by default: 64 bytes of gap per extra panel.</summary>
    public static long OddPanelBytes(DType t, int blocks, int panels) => Q32Panels.PanelBytes(t, blocks) + 64 * (panels - 1);

    // Random full-range panels and records for one shape, then each LastCols of the range through RunBoth. Odd strides:
    // a gap after each panel, records of a block 13 bytes past the tile's, output rows 3 floats past the panels' columns.
    public static int RandomCases(DType t, int rows, delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void> kernel, Random rng,
        int blocks, int panels, Range lastCols, long panelBytes = 0)
    {
        if (panelBytes == 0) panelBytes = OddPanelBytes(t, blocks, panels);
        using var weights = new Buffer(panels * panelBytes);
        rng.NextBytes(weights.Span);
        for (int p = 0; p < panels; p++)
            for (int b = 0; b < blocks; b++)
                RandomHalves(rng, new Span<ushort>(weights.At + p * panelBytes + (long)b * Q32Panels.BlockBytes(t) + Q32Panels.QuantBytes(t), 16));
        long actStride = rows * Q32ActRecords.RecordBytes + 13;
        using var act = new Buffer(blocks * actStride);
        rng.NextBytes(act.Span);
        for (int b = 0; b < blocks; b++)
            for (int r = 0; r < rows; r++)
            {
                byte* rec = act.At + b * actStride + r * Q32ActRecords.RecordBytes;
                *(int*)(rec + Q32ActRecords.CorrAt) = rng.Next(-(1 << 24), 1 << 24);
                *(float*)(rec + Q32ActRecords.ScaleAt) = (float)(rng.NextDouble() * 2 - 1);
            }
        int cases = 0;
        for (int lastCol = lastCols.Start.Value; lastCol < lastCols.End.Value; lastCol++, cases++)
            RunBoth(t, rows, kernel, weights.At, panelBytes, act.At, actStride, blocks, panels, lastCol, 16 * panels + 3);
        return cases;
    }

    // Runs the reference and the kernel on poisoned outputs and asserts every byte equal; returns the reference's.
    public static float[] RunBoth(DType t, int rows, delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void> kernel,
        byte* weights, long panelBytes, byte* act, long actStride, int blocks, int panels, int lastCols, int dstStride)
    {
        int len = rows * dstStride + 16;
        var want = new float[len];
        var got = new float[len];
        MemoryMarshal.Cast<float, uint>(want.AsSpan()).Fill(Poison);
        MemoryMarshal.Cast<float, uint>(got.AsSpan()).Fill(Poison);
        fixed (float* w = want, g = got)
        {
            var args = new QPanelArgs
            {
                Weights = weights, Act = act, Dst = w, ActBlockStride = actStride, DstRowStride = dstStride,
                PanelBytes = panelBytes, Blocks = blocks, Panels = panels, LastCols = lastCols,
            };
            Q32PanelReference.Run(t, rows, &args);
            args.Dst = g;
            new PanelKernel(kernel).Invoke(&args);
        }
        var wb = MemoryMarshal.Cast<float, uint>(want);
        var gb = MemoryMarshal.Cast<float, uint>(got);
        int at = wb.CommonPrefixLength(gb);
        if (at < len)
            Assert.Fail($"{t} rows {rows} blocks {blocks} panels {panels} lastCols {lastCols}: output {at} (row {at / dstStride}, column {at % dstStride}) " +
                $"is {gb[at]:X8}, the reference {wb[at]:X8}");
        return want;
    }

    // Random finite f16 bit patterns (any sign, exponent 0..30: zeros, subnormals and the full normal range).
    public static void RandomHalves(Random rng, Span<ushort> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            int bits;
            do bits = rng.Next(0, 1 << 16); while (((bits >> 10) & 31) == 31);
            dst[i] = (ushort)bits;
        }
    }

    public sealed class Buffer : IDisposable
    {
        public readonly byte* At;
        public readonly long Length;
        public Buffer(long bytes) { Length = bytes; At = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64); }
        public Span<byte> Span => new(At, checked((int)Length));
        public void Dispose() => NativeMemory.AlignedFree(At);
    }

    /// <summary>Asserts that emitted code is a leaf both ABIs allow without unwind data: Windows x64 keeps xmm6..15, rsi
    /// and rdi (and both ABIs rbx, rbp, r12..r15), so the kernels use zmm0..5, zmm16..31 and the volatile general
    /// registers only, and no stack (ret alone reads rsp); it ends with vzeroupper; ret.</summary>
    public static void AssertVolatileOnly(DType t, string what, byte[] code)
    {
        var kept = new HashSet<Iced.Intel.Register> { Iced.Intel.Register.RSI, Iced.Intel.Register.RBP, Iced.Intel.Register.R12,
            Iced.Intel.Register.R13, Iced.Intel.Register.R14, Iced.Intel.Register.R15, Iced.Intel.Register.RBX };
        for (int i = 6; i <= 15; i++) kept.Add(Iced.Intel.Register.ZMM0 + i);
        var infos = new Iced.Intel.InstructionInfoFactory();
        var decoder = Iced.Intel.Decoder.Create(64, new Iced.Intel.ByteArrayCodeReader(code), 0);
        var all = new List<Iced.Intel.Instruction>();
        while (decoder.IP < (ulong)code.Length) all.Add(decoder.Decode());
        Assert.Equal([Iced.Intel.Mnemonic.Vzeroupper, Iced.Intel.Mnemonic.Ret], all[^2..].Select(x => x.Mnemonic));
        Assert.DoesNotContain(all, x => x.StackPointerIncrement != 0 && x.Mnemonic != Iced.Intel.Mnemonic.Ret);
        // vzeroupper clears the upper halves only, which no ABI keeps; ret reads rsp.
        foreach (var instruction in all.Where(x => x.Mnemonic is not (Iced.Intel.Mnemonic.Vzeroupper or Iced.Intel.Mnemonic.Ret)))
            foreach (var used in infos.GetInfo(instruction).GetUsedRegisters())
            {
                var full = Iced.Intel.RegisterExtensions.GetFullRegister(used.Register);
                Assert.False(kept.Contains(full) || full is Iced.Intel.Register.RDI or Iced.Intel.Register.RSP, $"{t} {what}: {instruction} uses {used.Register}");
            }
    }
}
