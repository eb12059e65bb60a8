using Iced.Intel;
using Tessera.Cpu.Quant;
using static Iced.Intel.AssemblerRegisters;
using static Tessera.Cpu.Jit.PanelAsm;

namespace Tessera.Cpu.Jit;

/// <summary>Choices of the emitted panel kernels that do not change their results (the bench measures them).</summary>
/// <param name="PrefetchDistance">Bytes ahead of the current block to prefetch (prefetcht0, one per cache
/// line of the block), 0 for none.</param>
/// <param name="SplitIntegerChains">Where registers allow (rows 1..4), accumulate each block's integer dot in two
/// registers (even and odd k-groups) and add them: halves the dependent vpdpbusd chain. Integer sums are exact, so
/// the output is the same bits.</param>
internal sealed record PanelKernelOptions(int PrefetchDistance = 0, bool SplitIntegerChains = true)
{
    /// <summary>No prefetch, split chains.</summary>
    public static PanelKernelOptions Default { get; } = new();

    /// <summary>What <see cref="EmittedPanelKernels"/> emits for a format and row count: no prefetch. Measured with `peer
    /// qpanel --weights dram` on Zen 4: while a panel's scales were a stream of their own, prefetching Q4_0's weights
    /// 16 blocks ahead took 15-25% off at 4 and 8 rows and ~10% at 2 (K = 2048); with the scales beside their quants
    /// the same prefetch costs 13-38% at 2-4 rows and nothing at 8 (K = 768 and 2048), so it is gone. For Q8_0 no
    /// distance ever gained more than the noise. The one-row kernel the backend runs is
    /// <see cref="DecodePanelKernelEmitter"/>'s.</summary>
    public static PanelKernelOptions For(DType t, int rows) => Default;
}

/// <summary>
/// Emits, with Iced's assembler, the x86-64 AVX512-VNNI kernel of <see cref="Q32PanelReference"/>'s arithmetic for one
/// format (Q8_0 or Q4_0) and activation row count R (1..8): <c>void kernel(QPanelArgs* args)</c>.
/// <para>Per panel and block: each row's int32 accumulator starts at its record's correction (vpbroadcastd); vpdpbusd
/// adds weight chunk (u8, a register) times the row's 4 activation bytes of that k-group (s8, an embedded
/// <c>dword [act + 40r + 4g]{1to16}</c> broadcast); Q4_0's nibbles are split with vpsrlw + vpandd first. Then, in the
/// reference's order: vcvtdq2ps of the dot, vmulps of the block's 16 weight scales (vcvtph2ps from memory) by the row's
/// broadcast f32 scale, and one vfmadd231ps into the row's f32 accumulator. The last panel stores under the k-mask of
/// LastCols, so nothing past it is written.</para>
/// <para>Registers: zmm16+r holds row r's f32 sums, zmm24+r its integer dot (zmm24+R+r the second chain), zmm0..zmm4
/// weights, scales and the nibble mask: only zmm0..5 and zmm16..31, which no ABI asks to preserve (Windows keeps
/// xmm6..15). General registers: rax, rcx, rdx, r8..r11 only (volatile on SysV and Windows); no stack. The argument
/// comes in rdi (SysV) or rcx (Windows); vzeroupper before ret.</para>
/// </summary>
internal static class PanelKernelEmitter
{
    /// <summary>Most activation rows one kernel handles (8 f32 + 8 integer accumulators).</summary>
    public const int MaxRows = 8;

    private const int Rec = Q32ActRecords.RecordBytes;

    /// <summary>The machine code, position independent (relative branches only).</summary>
    public static byte[] Emit(DType t, int rows, PanelKernelOptions options, bool windowsAbi)
    {
        if (!Q32Panels.IsPanelFormat(t)) throw new ArgumentException($"no panel kernel for {t}: Q8_0 and Q4_0 only", nameof(t));
        if (rows is < 1 or > MaxRows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"panel kernels take 1..{MaxRows} activation rows");
        var a = new Assembler(64);
        Build(a, t, rows, options, windowsAbi);
        return Finish(a);
    }

    private static void Build(Assembler a, DType t, int rows, PanelKernelOptions o, bool windowsAbi)
    {
        int qb = Q32Panels.QuantBytes(t), bb = Q32Panels.BlockBytes(t);
        bool q4 = t == DType.Q4_0, split = o.SplitIntegerChains && rows <= 4;
        AssemblerRegisterZMM F(int r) => Z(16 + r);
        AssemblerRegisterZMM I(int r) => Z(24 + r);
        AssemblerRegisterZMM I2(int r) => Z(24 + rows + r);
        var w = Z(0); var wHi = Z(1); var dw = Z(2); var nibble = Z(3); var s = Z(4);

        Entry(a, t, windowsAbi);   // k2 = the last panel's columns, k1 = the current panel's (all 16 until the last)
        a.mov(rax, __qword_ptr[r11 + ArgWeights]);   // the panel
        a.mov(rdx, __qword_ptr[r11 + ArgDst]);       // its output columns, row 0

        var panel = a.CreateLabel("panel");
        var block = a.CreateLabel("block");
        var notLast = a.CreateLabel("notLast");
        a.Label(ref panel);
        DstEnd(a);
        a.sub(rcx, 64);
        a.cmp(rdx, rcx);
        a.jne(notLast);
        a.kmovw(k1, k2);
        a.Label(ref notLast);
        for (int r = 0; r < rows; r++) a.vpxord(F(r), F(r), F(r));
        a.mov(r8, rax);                                   // block b's quants
        a.lea(r9, __qword_ptr[rax + qb]);                 // block b's scales, right after its quants
        a.mov(r10, __qword_ptr[r11 + ArgAct]);            // block b's records
        a.mov(ecx, __dword_ptr[r11 + ArgBlocks]);

        a.Label(ref block);
        for (int r = 0; r < rows; r++)
        {
            a.vpbroadcastd(I(r), __dword_ptr[r10 + (r * Rec + Q32ActRecords.CorrAt)]);
            if (split) a.vpxord(I2(r), I2(r), I2(r));
        }
        if (q4)
            for (int c = 0; c < 4; c++)
            {
                // Chunk c: low nibbles are k-group c, high nibbles k-group 4 + c (activation bytes 4c and 16 + 4c).
                a.vmovdqu32(w, __zmmword_ptr[r8 + 64 * c]);
                a.vpsrlw(wHi, w, (byte)4);
                a.vpandd(w, w, nibble);
                a.vpandd(wHi, wHi, nibble);
                for (int r = 0; r < rows; r++)
                {
                    a.vpdpbusd(I(r), w, __dword_bcst[r10 + (r * Rec + 4 * c)]);
                    a.vpdpbusd(split ? I2(r) : I(r), wHi, __dword_bcst[r10 + (r * Rec + 16 + 4 * c)]);
                }
            }
        else
            for (int g = 0; g < 8; g++)
            {
                var wg = g % 2 == 0 ? w : wHi;
                a.vmovdqu32(wg, __zmmword_ptr[r8 + 64 * g]);
                for (int r = 0; r < rows; r++)
                    a.vpdpbusd(split && g % 2 == 1 ? I2(r) : I(r), wg, __dword_bcst[r10 + (r * Rec + 4 * g)]);
            }
        if (o.PrefetchDistance > 0)
            for (int line = 0; line < bb; line += 64) a.prefetcht0(__byte_ptr[r8 + (o.PrefetchDistance + line)]);
        a.vcvtph2ps(dw, __ymmword_ptr[r9]);
        for (int r = 0; r < rows; r++)
        {
            if (split) a.vpaddd(I(r), I(r), I2(r));
            a.vcvtdq2ps(I(r), I(r));
            a.vmulps(s, dw, __dword_bcst[r10 + (r * Rec + Q32ActRecords.ScaleAt)]);
            a.vfmadd231ps(F(r), I(r), s);
        }
        a.add(r8, bb);
        a.add(r9, bb);
        a.add(r10, __qword_ptr[r11 + ArgActBlockStride]);
        a.dec(ecx);
        a.jne(block);

        a.mov(r9, __qword_ptr[r11 + ArgDstRowStride]);
        a.shl(r9, (byte)2);
        a.mov(r10, rdx);
        for (int r = 0; r < rows; r++)
        {
            a.vmovups(__zmmword_ptr[r10].k1, F(r));
            if (r < rows - 1) a.add(r10, r9);
        }
        a.add(rax, __qword_ptr[r11 + ArgPanelBytes]);
        a.add(rdx, 64);
        DstEnd(a);
        a.cmp(rdx, rcx);
        a.jb(panel);
    }
}
