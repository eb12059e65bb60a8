using Iced.Intel;
using Tessera.Cpu.Quant;
using static Iced.Intel.AssemblerRegisters;
using static Tessera.Cpu.Jit.PanelAsm;

namespace Tessera.Cpu.Jit;

/// <summary>
/// Emits the one-activation-row (decode) panel kernel for one format, block count and panel stride:
/// <c>void kernel(QPanelArgs* args)</c> whose args must carry that <see cref="QPanelArgs.Blocks"/> and
/// <see cref="QPanelArgs.PanelBytes"/>. It computes <see cref="Q32PanelReference"/>'s arithmetic, bit for bit, for
/// <see cref="Lockstep"/> panels at a time (then the rest one at a time).
/// <para>Why: at one row a panel kernel only streams weights from DRAM, and one core's stream is limited by how many
/// cache lines it keeps in flight. One panel at a time is one weight stream: 10-12 GB/s on Zen 4 (with the scales in a
/// second stream as the layout first had them), where a bare load loop reaches 19 GB/s with one stream and 25-28 GB/s
/// with 4-8 (the hardware prefetchers track each stream). Eight panels side by side are eight streams, and the block's
/// activation bytes serve all eight.</para>
/// <para>Why specialized for the block count and stride: the eight streams are then displacements from one base
/// (<c>[r8 + index * 8 + p * panelBytes + 64c]</c>, the scales at <c>+ quantBytes</c>, the index counting blockBytes / 8
/// a block) and the loop ends at a constant, which leaves the few registers both ABIs treat as volatile enough. A model
/// has a handful of K values, so a handful of kernels.</para>
/// <para>Registers: zmm16+p panel p's f32 sums, zmm24+p its integer dot, zmm0..5 weights, scales, the nibble mask and
/// the correction; the activation bytes are embedded <c>{1to16}</c> broadcasts from L1. General registers rax, rcx,
/// rdx, r8..r11 only; no stack.</para>
/// </summary>
internal static class DecodePanelKernelEmitter
{
    /// <summary>Panels computed side by side (weight streams at once). `peer qpanel --rows 1 --weights dram` on Zen 4,
    /// one thread, time per block-panel over 8 side by side: 1 panel 1.4-1.6x, 2 panels 1.15-1.3x, 4 panels 1.0-1.1x
    /// (Q4_0 K = 2048: 13.5-15.4 GB/s at 8 against 10-11 at 1; Q8_0 17-20 against 12). Software prefetch (1-8 blocks
    /// ahead, every line) and GFNI for the high nibbles gained nothing on top; laying the panels out so that each of the
    /// 8 streams runs on from one call to the next gained 7-13% at K = 768 only, not worth a second layout. Scales
    /// beside their quants (one stream a panel instead of two) gained 10-20% for Q4_0 and 0-9% for Q8_0: the layout
    /// has them so. With that layout one panel at a time is 10-15% faster than 8 for Q4_0 at K = 768 in `peer qpanel`
    /// (one sequential stream across panels), 8 faster at K = 2048 and 5632 and for Q8_0 at every K; in the 110M
    /// model (Q4_0, mostly K = 768) 1 and 8 measured the same, so the backend emits 8 everywhere.</summary>
    public const int Lockstep = 8;

    /// <summary>The machine code (position independent), or null where the displacements would not fit 32 bits.</summary>
    public static byte[]? Emit(DType t, int blocks, long panelBytes, bool windowsAbi, int lockstep = Lockstep)
    {
        if (!Q32Panels.IsPanelFormat(t)) throw new ArgumentException($"no panel kernel for {t}: Q8_0 and Q4_0 only", nameof(t));
        if (blocks < 1) throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "at least one block");
        if (panelBytes < Q32Panels.PanelBytes(t, blocks)) throw new ArgumentOutOfRangeException(nameof(panelBytes), panelBytes, "shorter than a panel");
        if (lockstep is not (1 or 2 or 4 or 8)) throw new ArgumentOutOfRangeException(nameof(lockstep), lockstep, "1, 2, 4 or 8 panels");
        if ((lockstep + 1) * panelBytes > int.MaxValue) return null;
        var a = new Assembler(64);
        Build(a, t, blocks, panelBytes, lockstep, windowsAbi);
        return Finish(a);
    }

    private static void Build(Assembler a, DType t, int blocks, long panelBytes, int lockstep, bool windowsAbi)
    {
        bool q4 = t == DType.Q4_0;
        int qb = Q32Panels.QuantBytes(t), pb = (int)panelBytes;
        // The block index counts blockBytes / 8 per block (36 for Q4_0, 68 for Q8_0: x8 in the address).
        int step = Q32Panels.BlockBytes(t) / 8;

        // k2 = the last panel's columns, k3 = all 16, k1 = the current group's last panel's (all 16 until the end).
        Entry(a, t, windowsAbi);
        a.kxnorw(k3, k3, k3);
        a.mov(rax, __qword_ptr[r11 + ArgActBlockStride]);
        a.mov(r8, __qword_ptr[r11 + ArgWeights]);
        a.mov(rdx, __qword_ptr[r11 + ArgDst]);

        // Groups of `lockstep` panels while they fit, then each narrower width once for what is left (7 = 4 + 2 + 1).
        var widths = new List<int>();
        for (int p = lockstep; p >= 1; p /= 2) widths.Add(p);
        var groups = widths.Select(p => a.CreateLabel($"group{p}")).ToList();
        var exit = a.CreateLabel("exit");
        for (int wi = 0; wi < widths.Count; wi++)
        {
            int p = widths[wi];
            var group = groups[wi];
            var next = wi + 1 < widths.Count ? groups[wi + 1] : exit;
            var notLast = a.CreateLabel($"notLast{p}");
            var block = a.CreateLabel($"block{p}");
            a.Label(ref group);
            DstEnd(a);                                    // rcx = Dst + 64 * Panels
            a.lea(r9, __qword_ptr[rdx + 64 * p]);
            a.cmp(r9, rcx);
            a.ja(next);
            a.jne(notLast);
            a.kmovw(k1, k2);
            a.Label(ref notLast);
            for (int i = 0; i < p; i++) a.vpxord(Z(16 + i), Z(16 + i), Z(16 + i));
            a.mov(r10, __qword_ptr[r11 + ArgAct]);
            a.xor(ecx, ecx);

            a.Label(ref block);
            a.vpbroadcastd(Z(5), __dword_ptr[r10 + Q32ActRecords.CorrAt]);
            for (int i = 0; i < p; i++) a.vmovdqa32(Z(24 + i), Z(5));
            if (q4)
                for (int c = 0; c < 4; c++)
                    for (int i = 0; i < p; i++)
                    {
                        // Chunk c of panel i: low nibbles are k-group c, high nibbles k-group 4 + c.
                        a.vmovdqu32(Z(0), __zmmword_ptr[r8 + rcx * 8 + (i * pb + 64 * c)]);
                        a.vpsrlw(Z(1), Z(0), (byte)4);
                        a.vpandd(Z(0), Z(0), Z(3));
                        a.vpandd(Z(1), Z(1), Z(3));
                        a.vpdpbusd(Z(24 + i), Z(0), __dword_bcst[r10 + 4 * c]);
                        a.vpdpbusd(Z(24 + i), Z(1), __dword_bcst[r10 + (16 + 4 * c)]);
                    }
            else
                for (int g = 0; g < 8; g++)
                    for (int i = 0; i < p; i++)
                    {
                        var w = Z(i % 2);
                        a.vmovdqu32(w, __zmmword_ptr[r8 + rcx * 8 + (i * pb + 64 * g)]);
                        a.vpdpbusd(Z(24 + i), w, __dword_bcst[r10 + 4 * g]);
                    }
            a.vbroadcastss(Z(4), __dword_ptr[r10 + Q32ActRecords.ScaleAt]);
            for (int i = 0; i < p; i++)
            {
                a.vcvtph2ps(Z(2), __ymmword_ptr[r8 + rcx * 8 + (qb + i * pb)]);
                a.vcvtdq2ps(Z(24 + i), Z(24 + i));
                a.vmulps(Z(2), Z(2), Z(4));
                a.vfmadd231ps(Z(16 + i), Z(24 + i), Z(2));
            }
            a.add(r10, rax);
            a.add(rcx, step);
            a.cmp(rcx, blocks * step);
            a.jne(block);

            for (int i = 0; i < p; i++)
                a.vmovups(i == p - 1 ? __zmmword_ptr[rdx + 64 * i].k1 : __zmmword_ptr[rdx + 64 * i].k3, Z(16 + i));
            a.add(r8, p * pb);
            a.add(rdx, 64 * p);
            if (p == lockstep) a.jmp(group);
        }
        a.Label(ref exit);
    }
}
