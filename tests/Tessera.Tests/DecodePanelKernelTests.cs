using Tessera.Cpu.Jit;
using Tessera.Cpu.Quant;
using Xunit.Abstractions;

namespace Tessera.Tests;

/// <summary>The emitted one-row (decode) panel kernels, specialized per block count and run 8 panels side by side
/// (<see cref="DecodePanelKernelEmitter"/>), against the contract's scalar <see cref="Q32PanelReference"/>, bit for
/// bit on poisoned outputs: every panel count that exercises the 8-, 4-, 2- and 1-wide groups and their mix, every
/// LastCols, odd panel and record strides, every lockstep width.</summary>
public unsafe class DecodePanelKernelTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    public void Decode_kernels_equal_the_reference_for_every_panel_count_and_width(DType t)
    {
        string? why = EmittedPanelKernels.Unavailable;
        Skip.If(why != null, why);
        var rng = new Random(t == DType.Q8_0 ? 80 : 40);
        int cases = 0;
        foreach (int lockstep in new[] { 1, 2, 4, 8 })
            foreach (int blocks in new[] { 1, 2, 3, 5, 24 })
                for (int panels = 1; panels <= 19; panels++)
                {
                    long panelBytes = PanelKernelCases.OddPanelBytes(t, blocks, panels);
                    using var code = ExecutableCode.TryCreate(DecodePanelKernelEmitter.Emit(t, blocks, panelBytes, OperatingSystem.IsWindows(), lockstep)!, out string? refused);
                    Skip.If(code == null, refused);
                    var kernel = (delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)code.Entry;
                    // LastCols 1..16 on a few shapes, 16 and one partial value elsewhere (the mask logic is the same).
                    var lastCols = blocks <= 2 && panels % 4 == 1 ? 1..17 : (16 - panels % 16)..17;
                    cases += PanelKernelCases.RandomCases(t, 1, kernel, rng, blocks, panels, lastCols, panelBytes);
                }
        output.WriteLine($"{t}: {cases} cases equal bit for bit");
    }

    [SkippableTheory]
    [InlineData(DType.Q8_0, 24)]
    [InlineData(DType.Q4_0, 24)]
    [InlineData(DType.Q4_0, 176)]
    public void The_backends_decode_kernel_is_one_per_block_count_and_equals_the_reference(DType t, int blocks)
    {
        string? why = EmittedPanelKernels.Unavailable;
        Skip.If(why != null, why);
        nint entry = EmittedPanelKernels.EntryPoint(t, 1, blocks);
        Assert.NotEqual(0, entry);
        Assert.Equal(entry, EmittedPanelKernels.EntryPoint(t, 1, blocks));
        Assert.NotEqual(entry, EmittedPanelKernels.EntryPoint(t, 1, blocks + 1));
        Assert.NotEqual(entry, EmittedPanelKernels.EntryPoint(t, 1));        // the general one-row kernel
        Assert.Equal(EmittedPanelKernels.EntryPoint(t, 2), EmittedPanelKernels.EntryPoint(t, 2, blocks));
        var rng = new Random(blocks);
        var kernel = (delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)entry;
        foreach (int panels in new[] { 8, 13, 48 })
            PanelKernelCases.RandomCases(t, 1, kernel, rng, blocks, panels, 5..7, Q32Panels.PanelBytes(t, blocks));
    }

    [Fact]
    public void Emission_refuses_bad_shapes_and_declines_rows_too_long_for_32_bit_displacements()
    {
        Assert.Contains("Q8_0 and Q4_0", Assert.Throws<ArgumentException>(() => DecodePanelKernelEmitter.Emit(DType.Q4_K, 8, 4096, false)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DecodePanelKernelEmitter.Emit(DType.Q4_0, 0, 288, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => DecodePanelKernelEmitter.Emit(DType.Q4_0, 2, 100, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => DecodePanelKernelEmitter.Emit(DType.Q4_0, 2, 576, false, lockstep: 3));
        int huge = (int)(int.MaxValue / 9 / 288) + 1;
        Assert.Null(DecodePanelKernelEmitter.Emit(DType.Q4_0, huge, Q32Panels.PanelBytes(DType.Q4_0, huge), false));
    }

    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    public void Decode_kernels_touch_only_registers_both_abis_let_them_and_read_eight_streams(DType t)
    {
        foreach (int blocks in new[] { 1, 24, 176 })
            PanelKernelCases.AssertVolatileOnly(t, $"decode blocks {blocks}", DecodePanelKernelEmitter.Emit(t, blocks, Q32Panels.PanelBytes(t, blocks), windowsAbi: true)!);
        string text = JitDisassembly.Format(DecodePanelKernelEmitter.Emit(t, 24, Q32Panels.PanelBytes(t, 24), windowsAbi: false)!);
        output.WriteLine($"{t}, 24 blocks, SysV:");
        output.WriteLine(text);
        long pb = Q32Panels.PanelBytes(t, 24);
        // Panel 7's first chunk, 7 panel strides from the group's base, and its scales right after the block's quants.
        Assert.Contains($"[r8+rcx*8+{Hex(7 * pb)}]", text);
        Assert.Contains($"vcvtph2ps zmm2,[r8+rcx*8+{Hex(Q32Panels.QuantBytes(t) + 7 * pb)}]", text);
        Assert.Contains("vpdpbusd  zmm31,", text);
        Assert.Contains("mov       r11,rdi", text);
    }

    // Iced's hex: a leading 0 where the first digit is a letter, then h.
    private static string Hex(long x) => (x.ToString("X") is var h && h[0] > '9' ? "0" + h : h) + "h";
}
