using Iced.Intel;
using Tessera.Cpu.Quant;
using static Iced.Intel.AssemblerRegisters;

namespace Tessera.Cpu.Jit;

/// <summary>What the panel-kernel emitters (<see cref="PanelKernelEmitter"/>, <see cref="DecodePanelKernelEmitter"/>)
/// share: the <see cref="QPanelArgs"/> field offsets, the entry (the argument into r11, the column masks, the nibble
/// mask) and the end of the output columns the panel loops count against.</summary>
internal static class PanelAsm
{
    // QPanelArgs field offsets (fixed by the contract).
    public const int ArgWeights = 0, ArgAct = 8, ArgDst = 16, ArgActBlockStride = 24, ArgDstRowStride = 32,
        ArgPanelBytes = 40, ArgBlocks = 48, ArgPanels = 52, ArgLastCols = 56;

    public static AssemblerRegisterZMM Z(int i) => new(Register.ZMM0 + i);

    /// <summary>r11 = the argument (rdi on SysV, rcx on Windows); k2 = the last panel's LastCols columns, k1 = all 16
    /// (the current panel's until the last); for Q4_0, zmm3 = 0x0F in every byte. Uses ecx and r8d.</summary>
    public static void Entry(Assembler a, DType t, bool windowsAbi)
    {
        if (windowsAbi) a.mov(r11, rcx); else a.mov(r11, rdi);
        a.mov(ecx, __dword_ptr[r11 + ArgLastCols]);
        a.mov(r8d, 1);
        a.shl(r8d, cl);
        a.dec(r8d);
        a.kmovw(k2, r8d);
        a.kxnorw(k1, k1, k1);
        if (t == DType.Q4_0)
        {
            a.mov(ecx, 0x0F0F0F0F);
            a.vpbroadcastd(Z(3), ecx);
        }
    }

    /// <summary>rcx = Dst + 64 * Panels: where the output columns of the panel after the call's last would start. The
    /// panel loops count with rdx against it, so that a kernel needs no register an ABI keeps (and, a leaf without
    /// stack use, no unwind data on Windows).</summary>
    public static void DstEnd(Assembler a)
    {
        a.movsxd(rcx, __dword_ptr[r11 + ArgPanels]);
        a.shl(rcx, (byte)6);
        a.add(rcx, __qword_ptr[r11 + ArgDst]);
    }

    /// <summary>vzeroupper; ret; then the machine code, position independent (relative branches only).</summary>
    public static byte[] Finish(Assembler a)
    {
        a.vzeroupper();
        a.ret();
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), 0);
        return ms.ToArray();
    }
}
