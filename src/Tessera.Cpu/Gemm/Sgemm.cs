using System.Runtime.InteropServices;

namespace Tessera.Cpu.Gemm;

/// <summary>C (m x n, row stride ldc, f32) = epilogue(A (m x k) @ B (k x n)), A and B strided f32/f16/bf16.
/// BLIS/MLAS-style: A is packed into MC x KC blocks of MR-row panels (L2), B into KC x NR panels (L1), and the
/// register-blocked <see cref="MicroKernel"/> runs every A panel against one B panel (a short last row tile four rows
/// at a time). A constant B comes pre-packed (<see cref="PackedB"/>). The epilogue runs on each finished tile of the
/// last K block. m = 1 goes to <see cref="Gemv"/>. Every output is the same arithmetic whatever m, the tile that holds
/// it or the thread split: one FMA chain from zero per K block, the blocks added in order.</summary>
internal static unsafe class Sgemm
{
    /// <summary>K block: one A panel (KC x 12 floats = 12 KB) sits in L1 beside the streaming B panel.</summary>
    public const int KC = 256;

    /// <summary>Most rows of A packed at once: an MC x KC block (480 KB) stays in L2 (2 MB a core here) while every
    /// B panel passes over it.</summary>
    public const int MC = 480;

    /// <summary>Columns of B packed at once (KC x NC floats = 512 KB, in L2 beside the A block).</summary>
    public const int NC = 512;

    public static void Multiply(int m, int n, int k, in GemmOperand a, in GemmOperand b, float* c, long ldc, in GemmEpilogue ep, int threads) =>
        Multiply(m, n, k, a, b, null, c, ldc, ep, threads);

    /// <summary>As above; <paramref name="packed"/>, when given, replaces B (already packed with this machine's NR).</summary>
    public static void Multiply(int m, int n, int k, in GemmOperand a, in GemmOperand b, PackedB? packed, float* c, long ldc, in GemmEpilogue ep, int threads)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
            if (GemmEpilogueOps.Any(ep)) GemmEpilogueOps.Apply(c, ldc, m, n, 0, 0, ep);
            return;
        }
        threads = Math.Max(1, threads);
        if (m == 1 && Gemv.TryRun(n, k, a, packed is null ? b : default, packed, c, ep, threads)) return;

        int mr = MicroKernel.MR, nr = MicroKernel.NR;
        // Work split: a grid of tm x tn threads over (M, N) in whole register tiles. Columns first (every thread
        // then packs only its own part of B); rows when N has too few tiles to go round.
        int mTiles = (m + mr - 1) / mr, nTiles = (n + nr - 1) / nr;
        long work = (long)m * n * k;
        if (work < 64L * 64 * 64) threads = 1;
        int bestTm = 1, bestTn = 1;
        long bestCost = long.MaxValue;
        for (int tn = 1; tn <= threads; tn++)
        {
            if (threads % tn != 0) continue;
            int tm = threads / tn;
            if (tm > mTiles || tn > nTiles) continue;
            // Per-thread tiles, plus a charge for the B packing that every row group repeats.
            long cost = (long)((mTiles + tm - 1) / tm) * ((nTiles + tn - 1) / tn) * mr + (long)tm * nTiles / tn;
            if (cost <= bestCost) { bestCost = cost; bestTm = tm; bestTn = tn; }
        }
        int gm = bestTm, gn = bestTn;
        var aa = a; var bb = b; var e = ep;
        if (gm * gn == 1) { Worker(0, m, 0, n, k, aa, bb, packed, c, ldc, e); return; }
        CpuParallel.Run(gm * gn, gm * gn, t =>
        {
            int ti = t / gn, tj = t % gn;
            int i0 = (int)((long)mTiles * ti / gm) * mr, i1 = Math.Min(m, (int)((long)mTiles * (ti + 1) / gm) * mr);
            int j0 = (int)((long)nTiles * tj / gn) * nr, j1 = Math.Min(n, (int)((long)nTiles * (tj + 1) / gn) * nr);
            if (i0 < i1 && j0 < j1) Worker(i0, i1, j0, j1, k, aa, bb, packed, c, ldc, e);
        });
    }

    /// <summary>C[i0..i1, j0..j1] on the calling thread; j0 is a multiple of NR. Loop nest (BLIS order):
    /// for each MC x KC block of A, packed once into L2, pack B in KC x NC blocks and walk their NR-wide panels;
    /// each B panel (KC x NR, 32 KB, read from L2: it and an A tile do not both fit the 32 KB L1) serves every MR-row
    /// tile of the A block.</summary>
    private static void Worker(int i0, int i1, int j0, int j1, int k, in GemmOperand a, in GemmOperand b, PackedB? packed,
        float* c, long ldc, in GemmEpilogue ep)
    {
        int mr = MicroKernel.MR, nr = MicroKernel.NR;
        var buf = Buffers.ForThisThread();
        bool epi = GemmEpilogueOps.Any(ep);
        // Equal M blocks of at most MC rows, in whole register tiles.
        int mBlocks = (i1 - i0 + MC - 1) / MC;
        int mcStep = ((i1 - i0 + mBlocks - 1) / mBlocks + mr - 1) / mr * mr;
        for (int ic = i0; ic < i1; ic += mcStep)
        {
            int mc = Math.Min(mcStep, i1 - ic);
            int irCount = (mc + mr - 1) / mr;
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                bool acc = pc > 0, last = pc + kc >= k;
                GemmPack.PackA(a, ic, mc, pc, kc, mr, buf.A, buf.Scratch);
                for (int jc = j0; jc < j1; jc += NC)
                {
                    // Packing a whole NC-wide block reads B's rows as contiguous runs; packing one NR panel at a
                    // time would read 128-byte pieces at B's row stride, which for power-of-two widths land in the
                    // same cache sets and thrash.
                    int nc = Math.Min(NC, j1 - jc);
                    var nextRaw = default(RawPrefetch);
                    if (packed == null)
                    {
                        GemmPack.PackB(b, pc, kc, jc, nc, nr, buf.B, buf.Scratch);
                        // The B block packed next, pulled into L2 a slice per micro-kernel call while this one computes,
                        // so that packing it reads L2 rather than waiting on memory run by run (+2-10% measured).
                        int njc = jc + NC, npc = pc, nic = ic;
                        if (njc >= j1) { njc = j0; npc = pc + KC; if (npc >= k) { npc = 0; nic = ic + mcStep; } }
                        if (nic < i1)
                            nextRaw = new RawPrefetch(b, npc, Math.Min(KC, k - npc), njc, Math.Min(NC, j1 - njc), (nc + nr - 1) / nr * irCount);
                    }
                    for (int jr = jc; jr < jc + nc; jr += nr)
                    {
                        int cols = Math.Min(nr, j1 - jr);
                        float* bpanel = packed != null ? packed.Block(pc, jr) : buf.B + (long)(jr - jc) * kc;
                        // The next panel of this call's own B block, a slice per tile, so it arrives while this panel
                        // computes. Not for pre-packed panels: they lie one after another in memory, which the hardware
                        // prefetcher follows by itself, and software prefetches of them into L1 evict the panel in use
                        // (measured at 197 and 50 x 768 x 3072: 86 and 67 GFLOP/s with them, 96 and 83 without).
                        float* next = packed == null && jr + nr < jc + nc ? bpanel + (long)kc * nr : null;
                        for (int t = 0; t < irCount; t++)
                        {
                            if (next != null)
                                GemmPack.PrefetchPacked(next, (int)((long)kc * t / irCount), (int)((long)kc * (t + 1) / irCount), nr);
                            nextRaw.Step((jr - jc) / nr * irCount + t);
                            int ir = t * mr;
                            int rows = Math.Min(mr, mc - ir);
                            float* ap = buf.A + (long)ir * kc;
                            float* ct = c + (ic + ir) * ldc + jr;
                            if (rows == mr && cols == nr) MicroKernel.Run(kc, ap, bpanel, ct, ldc, acc);
                            else if (rows <= mr - 4 && mr == 12 && nr == 32)
                                // A short last tile, four rows at a time (the 12-row kernel would compute 12).
                                for (int g = 0; g < rows; g += 4)
                                {
                                    int gr = Math.Min(4, rows - g);
                                    if (gr == 4 && cols == nr) MicroKernel.Kernel4x32(kc, ap + g, mr, bpanel, ct + g * ldc, ldc, acc);
                                    else
                                    {
                                        MicroKernel.Kernel4x32(kc, ap + g, mr, bpanel, buf.Tile, nr, false);
                                        CopyEdge(buf.Tile, nr, ct + g * ldc, ldc, gr, cols, acc);
                                    }
                                }
                            else
                            {
                                // Edge tile: full tile into a buffer, then only the valid part into C.
                                MicroKernel.Run(kc, ap, bpanel, buf.Tile, nr, false);
                                CopyEdge(buf.Tile, nr, ct, ldc, rows, cols, acc);
                            }
                            if (last && epi) GemmEpilogueOps.Apply(ct, ldc, rows, cols, ic + ir, jr, ep);
                        }
                    }
                }
            }
        }
    }

    // The valid rows x cols of a tile computed into a buffer, stored or added into C (c = c + tile, the same sum as
    // the kernel's own accumulate, so an edge element gets the arithmetic of an inner one).
    private static void CopyEdge(float* tile, int ldt, float* c, long ldc, int rows, int cols, bool acc)
    {
        for (int r = 0; r < rows; r++)
        {
            float* src = tile + r * ldt, dst = c + r * ldc;
            if (acc) for (int j = 0; j < cols; j++) dst[j] += src[j];
            else for (int j = 0; j < cols; j++) dst[j] = src[j];
        }
    }

    /// <summary>Prefetches a KC x NC block of a plain (unpacked) B into L2, a slice at each of <c>steps</c> calls.</summary>
    private readonly struct RawPrefetch
    {
        private readonly byte* _base;
        private readonly long _runStride;
        private readonly int _linesPerRun, _lines, _steps;

        public RawPrefetch(in GemmOperand b, int pc, int kc, int jc, int nc, int steps)
        {
            int es = b.Type == DType.F32 ? 4 : 2;
            _steps = Math.Max(steps, 1);
            // Row-major B: kc runs of nc elements; column-major: nc runs of kc elements; other strides: nothing.
            int runs, len;
            if (b.ColStride == 1) { runs = kc; len = nc; _runStride = b.RowStride * es; }
            else if (b.RowStride == 1) { runs = nc; len = kc; _runStride = b.ColStride * es; }
            else return;
            _base = (byte*)b.Ptr + (pc * b.RowStride + jc * b.ColStride) * es;
            _linesPerRun = (int)(((long)len * es + 63) / 64) + 1; // + 1: a run need not start on a line
            _lines = runs * _linesPerRun;
        }

        /// <summary>Prefetches slice <paramref name="step"/> of the block.</summary>
        public void Step(int step)
        {
            if (_base == null || step >= _steps) return;
            int l0 = (int)((long)_lines * step / _steps), l1 = (int)((long)_lines * (step + 1) / _steps);
            GemmPack.PrefetchRuns(_base, _runStride, _linesPerRun, l0, l1);
        }
    }

    /// <summary>Per-thread packing buffers, 64-byte aligned, allocated once per thread and reused by every call.</summary>
    private sealed class Buffers
    {
        [ThreadStatic] private static Buffers? t_current;
        public readonly float* A, B, Scratch, Tile;

        private Buffers()
        {
            A = Alloc((long)MC * KC);
            B = Alloc((long)KC * NC);
            Scratch = Alloc(Math.Max(KC, NC) + 64);
            Tile = Alloc(64 * 64);
        }

        public static Buffers ForThisThread() => t_current ??= new Buffers();

        private static float* Alloc(long floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);

        // The buffers live as long as their thread; thread-pool threads live for the process.
        ~Buffers()
        {
            NativeMemory.AlignedFree(A); NativeMemory.AlignedFree(B);
            NativeMemory.AlignedFree(Scratch); NativeMemory.AlignedFree(Tile);
        }
    }
}
