using System.Runtime.InteropServices;
using Tessera.Cpu.Jit;
using Tessera.Cpu.Quant;
using Tessera.Quant;
using Xunit.Abstractions;

namespace Tessera.Tests;

/// <summary>The run-time emitted AVX512-VNNI panel kernels (src/Tessera.Cpu/Jit) against the contract's scalar
/// <see cref="Q32PanelReference"/>, bit for bit: every byte of a poisoned destination (columns past LastCols, the gaps
/// of odd row strides, a guard past the last row) must equal what the reference left there, so a write past LastCols
/// fails as surely as a wrong sum. Also the executable-memory wrapper, the off switch, and the disassembly of one
/// kernel (printed to the test output).</summary>
public unsafe class EmittedPanelKernelTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    public void Emitted_kernels_equal_the_reference_on_full_range_random_panels(DType t)
    {
        SkipWithoutKernels();
        var rng = new Random(t == DType.Q8_0 ? 8 : 4);
        int cases = 0;
        for (int rows = 1; rows <= 8; rows++)
        {
            var kernel = Kernel(t, rows);
            for (int blocks = 1; blocks <= 9; blocks++)
                for (int panels = 1; panels <= 3; panels++)
                    cases += PanelKernelCases.RandomCases(t, rows, kernel, rng, blocks, panels, lastCols: 1..17);
        }
        output.WriteLine($"{t}: {cases} cases equal bit for bit");
    }

    [SkippableTheory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    public void Every_emission_option_gives_the_same_bits(DType t)
    {
        SkipWithoutKernels();
        var rng = new Random(17);
        foreach (var options in new[] { PanelKernelOptions.Default, new PanelKernelOptions(PrefetchDistance: 2048, SplitIntegerChains: false), new PanelKernelOptions(PrefetchDistance: 64) })
            for (int rows = 1; rows <= 8; rows++)
            {
                using var code = ExecutableCode.TryCreate(PanelKernelEmitter.Emit(t, rows, options, OperatingSystem.IsWindows()), out string? why);
                Skip.If(code == null, why);
                var kernel = (delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)code.Entry;
                PanelKernelCases.RandomCases(t, rows, kernel, rng, blocks: 1 + rows, panels: 1 + rows % 3, lastCols: (rows + 8)..(rows + 9));
                PanelKernelCases.RandomCases(t, rows, kernel, rng, blocks: 20, panels: 2, lastCols: 16..17);
            }
    }

    [SkippableTheory]
    [InlineData(DType.Q8_0, 37, 96, 3)]
    [InlineData(DType.Q4_0, 37, 96, 3)]
    [InlineData(DType.Q8_0, 16, 288, 8)]
    [InlineData(DType.Q4_0, 50, 32, 1)]
    [InlineData(DType.Q4_0, 7, 2048, 5)]
    public void Emitted_kernels_equal_the_reference_on_repacked_gguf_blocks(DType t, int n, int k, int rows)
    {
        SkipWithoutKernels();
        var rng = new Random(n * k + rows);
        var wf = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var gguf = new byte[t.ByteCount((long)n * k)];
        BlockQuant.Quantize(t, wf, gguf);
        int blocks = k / 32, panels = Q32Panels.Panels(n);
        long panelBytes = Q32Panels.PanelBytes(t, blocks), actStride = rows * Q32ActRecords.RecordBytes;
        using var weights = new PanelKernelCases.Buffer(panels * panelBytes);
        fixed (byte* src = gguf) Q32Panels.Repack(t, src, gguf.Length / n, n, blocks, weights.At, 0, panels);
        var x = Enumerable.Range(0, rows * k).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        using var xq = new QuantizedRows(ActKind.Block32, rows, k);
        fixed (float* xp = x) xq.Quantize(xp, 0, rows);
        using var act = new PanelKernelCases.Buffer(blocks * actStride);
        Q32ActRecords.Fill(xq, Q32Panels.Offset(t), act.At, actStride);
        float[] got = PanelKernelCases.RunBoth(t, rows, Kernel(t, rows), weights.At, panelBytes, act.At, actStride, blocks, panels, n - 16 * (panels - 1), 16 * panels);

        // And the panels compute the matmul: against the f64 product of the dequantized weights and activations.
        var wd = new float[n * k];
        BlockQuant.Dequantize(t, gguf, wd);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double want = 0, mag = 0;
                for (int e = 0; e < k; e++)
                {
                    double xe = xq.Row(r)[e] * (double)xq.D[r * blocks + e / 32];
                    want += wd[j * k + e] * xe; mag += Math.Abs(wd[j * k + e] * xe);
                }
                Assert.True(Math.Abs(got[r * 16 * panels + j] - want) <= 1e-5 * mag + 1e-6, $"row {r} column {j}: {got[r * 16 * panels + j]} vs {want}");
            }
    }

    [SkippableFact]
    public void Executable_code_runs_and_unmaps()
    {
        Skip.IfNot(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == Architecture.X64, "x86-64 code");
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsWindows(), "executable memory is implemented for Linux and Windows");
        byte[] code = [0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3];   // mov eax, 42; ret
        var exe = ExecutableCode.TryCreate(code, out string? reason);
        Skip.If(exe == null, $"this system refuses executable memory: {reason}");
        Assert.Equal(code.Length, exe.Length);
        Assert.Equal(42, ((delegate* unmanaged<int>)exe.Entry)());
        exe.Dispose();
        exe.Dispose();
        Assert.Throws<ObjectDisposedException>(() => exe.Entry);
        Assert.Throws<ArgumentException>(() => ExecutableCode.TryCreate([], out _));
        // A refusal comes back as a reason, not an exception (here: pages that are not page-aligned).
        Assert.False(ExecutablePages.MakeExecutable(1, (nuint)Environment.SystemPageSize, out string? refused));
        Assert.Contains(OperatingSystem.IsLinux() ? "mprotect" : "VirtualProtect", refused);
    }

    [SkippableFact]
    public void Concurrent_first_requests_get_one_kernel_each()
    {
        SkipWithoutKernels();
        var entries = new nint[16, 2 * PanelKernelEmitter.MaxRows];
        Parallel.For(0, 16, i =>
        {
            for (int j = 0; j < 2 * PanelKernelEmitter.MaxRows; j++)
                entries[i, j] = EmittedPanelKernels.EntryPoint(j % 2 == 0 ? DType.Q8_0 : DType.Q4_0, 1 + j / 2);
        });
        for (int j = 0; j < 2 * PanelKernelEmitter.MaxRows; j++)
        {
            Assert.NotEqual(0, entries[0, j]);
            for (int i = 1; i < 16; i++) Assert.Equal(entries[0, j], entries[i, j]);
        }
        Assert.Equal(2 * PanelKernelEmitter.MaxRows, Enumerable.Range(0, 2 * PanelKernelEmitter.MaxRows).Select(j => entries[0, j]).Distinct().Count());
    }

    [Fact]
    public void The_switch_turns_emission_off()
    {
        Assert.NotNull(PanelKernelSource.Emitted);   // set by Tessera.Cpu's module initializer
        AppContext.SetSwitch(JitSupport.DisableSwitch, true);
        try
        {
            Assert.Equal(0, PanelKernelSource.Emitted!(DType.Q8_0, 1, 24));
            Assert.Equal(0, PanelKernelSource.Emitted!(DType.Q4_0, 2, 24));
            Assert.Contains(JitSupport.DisableSwitch, EmittedPanelKernels.Unavailable);
        }
        finally { AppContext.SetSwitch(JitSupport.DisableSwitch, false); }
        Assert.Equal(0, EmittedPanelKernels.EntryPoint(DType.F32, 1));
        Assert.Equal(0, EmittedPanelKernels.EntryPoint(DType.Q4_0, 9));
    }

    [Fact]
    public void Emission_refuses_what_it_has_no_kernel_for()
    {
        Assert.Contains("Q8_0 and Q4_0", Assert.Throws<ArgumentException>(() => PanelKernelEmitter.Emit(DType.Q4_K, 1, PanelKernelOptions.Default, false)).Message);
        Assert.Contains("1..8", Assert.Throws<ArgumentOutOfRangeException>(() => PanelKernelEmitter.Emit(DType.Q8_0, 9, PanelKernelOptions.Default, false)).Message);
    }

    [Fact]
    public void The_disassembly_shows_the_vnni_kernel()
    {
        // Emitting needs no VNNI hardware: only running does.
        string q4 = JitDisassembly.Format(PanelKernelEmitter.Emit(DType.Q4_0, 2, PanelKernelOptions.For(DType.Q4_0, 2), windowsAbi: false));
        output.WriteLine("Q4_0, 2 rows, SysV, as the backend gets it:");
        output.WriteLine(q4);
        Assert.Contains("vpdpbusd  zmm24,zmm0,[r10]{1to16}", q4);
        Assert.Contains("vcvtph2ps", q4);
        Assert.Contains("vmovups   [r10]{k1},zmm16", q4);
        Assert.Contains("vzeroupper", q4);
        Assert.DoesNotContain("prefetch", q4);
        string prefetching = JitDisassembly.Format(PanelKernelEmitter.Emit(DType.Q4_0, 2, new PanelKernelOptions(PrefetchDistance: 16 * 288), windowsAbi: false));
        Assert.Contains("prefetcht0 [r8+1200h]", prefetching);   // 16 blocks of 288 bytes ahead, one per line
        Assert.Contains("mov       r11,rdi", q4);
        string win = JitDisassembly.Format(PanelKernelEmitter.Emit(DType.Q8_0, 8, PanelKernelOptions.Default, windowsAbi: true));
        Assert.Contains("mov       r11,rcx", win);
    }

    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    public void Kernels_touch_only_registers_both_abis_let_them(DType t)
    {
        for (int rows = 1; rows <= 8; rows++)
            PanelKernelCases.AssertVolatileOnly(t, $"rows {rows}", PanelKernelEmitter.Emit(t, rows, new PanelKernelOptions(PrefetchDistance: 1024), windowsAbi: true));
    }

    private static void SkipWithoutKernels()
    {
        string? why = EmittedPanelKernels.Unavailable;
        Skip.If(why != null, why);
    }

    private static delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void> Kernel(DType t, int rows)
    {
        nint e = EmittedPanelKernels.EntryPoint(t, rows);
        Skip.If(e == 0, EmittedPanelKernels.Unavailable ?? "no kernel");
        return (delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)e;
    }
}
