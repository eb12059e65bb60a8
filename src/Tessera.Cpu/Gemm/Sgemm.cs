using System.Runtime.InteropServices;

namespace Tessera.Cpu.Gemm;

/// <summary>C (m x n, row stride ldc, f32) = epilogue(A (m x k) @ B (k x n)), A and B strided f32/f16/bf16.
/// BLIS/MLAS-style: B is packed into KC x NC blocks of NR-wide panels (L2), A into MR-row panels, and the
/// register-blocked <see cref="MicroKernel"/> walks NR-panels of B for one A panel at a time (the A panel, kc x MR,
/// stays in L1). The epilogue runs on each finished tile of the last K block. m = 1 goes to <see cref="Gemv"/>.</summary>
internal static unsafe class Sgemm
{
    /// <summary>K block: one A panel (KC x 12 floats = 12 KB) sits in L1 beside the streaming B panel.</summary>
    public const int KC = 256;

    /// <summary>N block: a packed B block (KC x NC floats = 512 KB) sits in L2 (2 MB a core here).</summary>
    public const int NC = 512;

    /// <summary>M block packed at once (a multiple of every MR).</summary>
    public const int MC = 240;

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
        Parallel.For(0, gm * gn, new ParallelOptions { MaxDegreeOfParallelism = gm * gn }, t =>
        {
            int ti = t / gn, tj = t % gn;
            int i0 = (int)((long)mTiles * ti / gm) * mr, i1 = Math.Min(m, (int)((long)mTiles * (ti + 1) / gm) * mr);
            int j0 = (int)((long)nTiles * tj / gn) * nr, j1 = Math.Min(n, (int)((long)nTiles * (tj + 1) / gn) * nr);
            if (i0 < i1 && j0 < j1) Worker(i0, i1, j0, j1, k, aa, bb, packed, c, ldc, e);
        });
    }

    /// <summary>C[i0..i1, j0..j1] on the calling thread; j0 is a multiple of NR.</summary>
    private static void Worker(int i0, int i1, int j0, int j1, int k, in GemmOperand a, in GemmOperand b, PackedB? packed,
        float* c, long ldc, in GemmEpilogue ep)
    {
        int mr = MicroKernel.MR, nr = MicroKernel.NR;
        var buf = Buffers.ForThisThread();
        bool epi = GemmEpilogueOps.Any(ep);
        for (int jc = j0; jc < j1; jc += NC)
        {
            int nc = Math.Min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                float* bp;
                if (packed != null) bp = packed.Block(pc, jc);
                else { GemmPack.PackB(b, pc, kc, jc, nc, nr, buf.B, buf.Scratch); bp = buf.B; }
                bool acc = pc > 0, last = pc + kc >= k;
                for (int ic = i0; ic < i1; ic += MC)
                {
                    int mc = Math.Min(MC, i1 - ic);
                    GemmPack.PackA(a, ic, mc, pc, kc, mr, buf.A, buf.Scratch);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int rows = Math.Min(mr, mc - ir);
                        float* ap = buf.A + (long)ir * kc;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            float* ct = c + (ic + ir) * ldc + jc + jr;
                            if (rows == mr && cols == nr) MicroKernel.Run(kc, ap, bp + (long)jr * kc, ct, ldc, acc);
                            else
                            {
                                // Edge tile: full tile into a buffer, then only the valid part into C.
                                MicroKernel.Run(kc, ap, bp + (long)jr * kc, buf.Tile, nr, false);
                                for (int r = 0; r < rows; r++)
                                {
                                    float* src = buf.Tile + r * nr, dst = ct + r * ldc;
                                    if (acc) for (int j = 0; j < cols; j++) dst[j] += src[j];
                                    else for (int j = 0; j < cols; j++) dst[j] = src[j];
                                }
                            }
                            if (last && epi) GemmEpilogueOps.Apply(ct, ldc, rows, cols, ic + ir, jc + jr, ep);
                        }
                    }
                }
            }
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
            B = Alloc((long)KC * (NC + 64));
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
