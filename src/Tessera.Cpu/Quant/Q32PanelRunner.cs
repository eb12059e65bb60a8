using Tessera.Cpu.Gemm;

namespace Tessera.Cpu.Quant;

/// <summary>The driver of the panel matmul: x [M, K] f32 (contiguous) times a repacked Q8_0/Q4_0 weight, into dst
/// [M, N] (contiguous). Activation rows go in tiles of 8 and one tile of the remainder, each tile one kernel call per
/// group of <see cref="PanelGroup"/> panels; a work item is one panel group and up to <see cref="TilesPerItem"/> row
/// tiles, so the group's weights stay in L2 while the tiles pass over them (decode: one tile, and the threads split
/// the panel groups in contiguous ranges). Every output gets the same arithmetic whatever M and the tile
/// (batch invariance): only the kernel's row count changes, and the kernels agree bit for bit.</summary>
internal static unsafe class Q32PanelRunner
{
    /// <summary>Panels of one kernel call: 64 output columns; at K = 5632 about 200 KB of Q4_0, a few microseconds of
    /// streaming, so an emitted kernel's call without a GC transition stays short.</summary>
    public const int PanelGroup = 4;
    /// <summary>Panels of one call at one activation row: the emitted decode kernel runs 8 side by side (8 weight
    /// streams, see DecodePanelKernelEmitter); about 400 KB of Q4_0 at K = 5632.</summary>
    public const int DecodePanelGroup = 8;
    /// <summary>Row tiles of one work item: 64 activation rows.</summary>
    public const int TilesPerItem = 8;
    public const int TileRows = 8;

    public static void Run(Q32PanelWeight w, float* x, int m, float* dst, in GemmEpilogue ep, int threads)
    {
        int n = w.N, blocks = w.Blocks, panels = w.Panels;
        using var acts = new Q32PanelActs(m, blocks);
        int offset = Q32Panels.Offset(w.Type);
        CpuParallel.For(m, threads, Math.Max(1, 16384 / w.K), (s, e) => acts.Quantize(x, offset, (int)s, (int)e));

        int fullTiles = m / TileRows, rest = m % TileRows, tiles = fullTiles + (rest > 0 ? 1 : 0);
        var full = fullTiles > 0 ? Q32PanelKernels.For(w.Type, TileRows, blocks) : default;
        var part = rest > 0 ? Q32PanelKernels.For(w.Type, rest, blocks) : default;
        int group = m == 1 ? DecodePanelGroup : PanelGroup;
        int groups = (panels + group - 1) / group, rowItems = (tiles + TilesPerItem - 1) / TilesPerItem;
        byte* weights = w.Data;
        long panelBytes = w.PanelBytes, blockStride = acts.BlockStride;
        int lastCols = w.LastCols;
        var e = ep;
        bool epilogue = GemmEpilogueOps.Any(e);
        CpuParallel.For((long)groups * rowItems, threads, 1, (s, end) =>
        {
            QPanelArgs a = default;
            a.ActBlockStride = blockStride;
            a.DstRowStride = n;
            a.PanelBytes = panelBytes;
            a.Blocks = blocks;
            for (long item = s; item < end; item++)
            {
                int g = (int)(item / rowItems), t0 = (int)(item % rowItems) * TilesPerItem, t1 = Math.Min(tiles, t0 + TilesPerItem);
                int p0 = g * group, p1 = Math.Min(panels, p0 + group);
                a.Weights = weights + p0 * panelBytes;
                a.Panels = p1 - p0;
                a.LastCols = p1 == panels ? lastCols : Q32Panels.Width;
                for (int t = t0; t < t1; t++)
                {
                    int r0 = t * TileRows;
                    a.Act = acts.Row(r0);
                    a.Dst = dst + (long)r0 * n + p0 * Q32Panels.Width;
                    (t < fullTiles ? full : part).Invoke(&a);
                }
                if (epilogue)
                {
                    int i0 = t0 * TileRows, i1 = Math.Min(m, t1 * TileRows), j0 = p0 * Q32Panels.Width, j1 = Math.Min(n, p1 * Q32Panels.Width);
                    GemmEpilogueOps.Apply(dst + (long)i0 * n + j0, n, i1 - i0, j1 - j0, i0, j0, e);
                }
            }
        });
    }
}
