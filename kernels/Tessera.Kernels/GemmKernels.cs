using ILGPU;

namespace Tessera.Kernels;

// GEMM: C[b] = act(A[b] @ B[b] + bias) * multiplier[b] + residual[b]. Reference: NaiveOps.MatMul (tests/Tessera.Tests/Reference)
// and CpuBackend.MatMul (src/Tessera.Cpu/CpuBackend.MatMul.cs).
//
// Design (the classic shared-memory tiled SGEMM):
// - one block of 256 threads computes a 64x64 tile of C; K advances 16 at a time through two shared tiles,
//   As[16][64] (A's tile stored k-major, i.e. transposed) and Bs[16][64], each row padded to 68 floats so the
//   k-fastest loader writes them without 16-way bank conflicts;
// - thread (tx, ty) = (tid % 16, tid / 16) owns the 4x4 outputs at rows ty + 16 i and columns tx + 16 j: in the
//   inner loop a half-warp reads 16 consecutive Bs floats (no conflict) and one broadcast As float, and the
//   epilogue's stores are coalesced along N;
// - each thread loads 4 elements of each tile; the next tile's loads are issued into registers before the
//   current tile's arithmetic (register double buffering), so global latency overlaps the 16x16 mul-adds;
// - the loader walks the operand along whichever axis has unit stride (uniform branch), so transposed operands
//   (column-major A or B, as strided views) are still read coalesced; any strides work, and every load past
//   M, N or K is guarded (reads 0), so no size needs to be a multiple of the tile;
// - A and B are f32, f16 or bf16 (converted to f32 on load; f32 accumulation), C any float dtype;
// - batches: a StridedLayout over the batch axes gives each operand's matrix start (stride 0: broadcast);
//   tiles are walked with a grid-stride loop, so any grid covers any batch x tiles count.
// ILGPU does not unroll loops: the 4x4 register tile is written out by hand, and mul then add (no fma).

/// <summary>Sizes, strides (elements) and epilogue switches of one GEMM launch. Host mirror: Tessera.Cuda.GemmArgsArg.</summary>
public struct GemmArgs
{
    public long ARs, ACs, BRs, BCs, RRs, RCs, BiasOffset, BiasStride, MRs, MCs;
    public int M, N, K, Batch;
    /// <summary>Unary op code applied after the bias (OpCodes), or -1 for none.</summary>
    public int Act;
    /// <summary>Bias dtype (ElementCodes), or -1 without a bias.</summary>
    public int BiasDType;
    /// <summary>1 when a residual is added last.</summary>
    public int HasResidual;
    /// <summary>1 when the activated value is multiplied by a multiplier (the gated MLP's up projection) before the
    /// residual.</summary>
    public int HasMultiplier;
}

/// <summary>The tiled GEMM family.</summary>
public static class GemmKernels
{
    public const int BM = 64, BN = 64, BK = 16, Threads = 256, Stride = 68;

    // Element e (0..1023) of A's 64x16 tile: k-fastest when A's rows are contiguous (ACs == 1), else m-fastest.
    private static float LoadA(ArrayView<byte> a, int dt, long at, GemmArgs g, int m0, int k0, int e, out int sidx)
    {
        int mm, kk;
        if (g.ACs == 1) { kk = e & (BK - 1); mm = e >> 4; }
        else { mm = e & (BM - 1); kk = e >> 6; }
        sidx = kk * Stride + mm;
        int m = m0 + mm, k = k0 + kk;
        return m < g.M && k < g.K ? ElementIO.LoadF(a, dt, at + m * g.ARs + k * g.ACs) : 0f;
    }

    // Element e of B's 16x64 tile: n-fastest when B's rows are contiguous (BCs == 1), else k-fastest.
    private static float LoadB(ArrayView<byte> b, int dt, long at, GemmArgs g, int n0, int k0, int e, out int sidx)
    {
        int nn, kk;
        if (g.BCs == 1) { nn = e & (BN - 1); kk = e >> 6; }
        else { kk = e & (BK - 1); nn = e >> 4; }
        sidx = kk * Stride + nn;
        int n = n0 + nn, k = k0 + kk;
        return n < g.N && k < g.K ? ElementIO.LoadF(b, dt, at + k * g.BRs + n * g.BCs) : 0f;
    }

    /// <summary>The epilogue of one output element: bias, activation, multiplier, residual, store in C's dtype.</summary>
    private static void Store(ArrayView<byte> c, int cdt, long cAt, ArrayView<byte> bias, ArrayView<byte> res, int rdt, long rAt,
        ArrayView<byte> mul, int mdt, long mAt, GemmArgs g, int m, int n, float acc)
    {
        if (m >= g.M || n >= g.N) return;
        float v = acc;
        if (g.BiasDType >= 0) v += ElementIO.LoadF(bias, g.BiasDType, g.BiasOffset + n * g.BiasStride);
        if (g.Act >= 0) v = ElementMath.Unary(g.Act, v);
        if (g.HasMultiplier != 0) v *= ElementIO.LoadF(mul, mdt, mAt + m * g.MRs + n * g.MCs);
        if (g.HasResidual != 0) v += ElementIO.LoadF(res, rdt, rAt + m * g.RRs + n * g.RCs);
        ElementIO.StoreF(c, cdt, cAt + (long)m * g.N + n, v);
    }

    [Kernel(BlockX = Threads, Reference = "NaiveOps.MatMul; CpuBackend.MatMul",
        Constants = ["BM=64", "BN=64", "BK=16", "TM=4", "TN=4", "Threads=256"])]
    public static void Tiled(ArrayView<byte> a, StridedLayout al, ArrayView<byte> b, StridedLayout bl,
        ArrayView<byte> c, StridedLayout cl, ArrayView<byte> bias, ArrayView<byte> res, StridedLayout rl,
        ArrayView<byte> mul, StridedLayout ml, GemmArgs g)
    {
        var As = SharedMemory.Allocate<float>(BK * Stride);
        var Bs = SharedMemory.Allocate<float>(BK * Stride);
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int tilesN = (g.N + BN - 1) / BN, tilesM = (g.M + BM - 1) / BM;
        long perBatch = (long)tilesM * tilesN, total = perBatch * g.Batch;
        int kTiles = (g.K + BK - 1) / BK;
        for (long t = Grid.IdxX; t < total; t += Grid.DimX)
        {
            long batch = t / perBatch;
            int tile = (int)(t - batch * perBatch);
            int m0 = tile / tilesN * BM, n0 = tile % tilesN * BN;
            long aAt = al.OffsetOf(batch), bAt = bl.OffsetOf(batch);

            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;

            // Tile 0 into registers.
            float ra0 = LoadA(a, al.DType, aAt, g, m0, 0, tid, out int sa0);
            float ra1 = LoadA(a, al.DType, aAt, g, m0, 0, tid + 256, out int sa1);
            float ra2 = LoadA(a, al.DType, aAt, g, m0, 0, tid + 512, out int sa2);
            float ra3 = LoadA(a, al.DType, aAt, g, m0, 0, tid + 768, out int sa3);
            float rb0 = LoadB(b, bl.DType, bAt, g, n0, 0, tid, out int sb0);
            float rb1 = LoadB(b, bl.DType, bAt, g, n0, 0, tid + 256, out int sb1);
            float rb2 = LoadB(b, bl.DType, bAt, g, n0, 0, tid + 512, out int sb2);
            float rb3 = LoadB(b, bl.DType, bAt, g, n0, 0, tid + 768, out int sb3);

            for (int kt = 0; kt < kTiles; kt++)
            {
                As[sa0] = ra0; As[sa1] = ra1; As[sa2] = ra2; As[sa3] = ra3;
                Bs[sb0] = rb0; Bs[sb1] = rb1; Bs[sb2] = rb2; Bs[sb3] = rb3;
                Group.Barrier();
                if (kt + 1 < kTiles)
                {
                    int k0 = (kt + 1) * BK;
                    ra0 = LoadA(a, al.DType, aAt, g, m0, k0, tid, out sa0);
                    ra1 = LoadA(a, al.DType, aAt, g, m0, k0, tid + 256, out sa1);
                    ra2 = LoadA(a, al.DType, aAt, g, m0, k0, tid + 512, out sa2);
                    ra3 = LoadA(a, al.DType, aAt, g, m0, k0, tid + 768, out sa3);
                    rb0 = LoadB(b, bl.DType, bAt, g, n0, k0, tid, out sb0);
                    rb1 = LoadB(b, bl.DType, bAt, g, n0, k0, tid + 256, out sb1);
                    rb2 = LoadB(b, bl.DType, bAt, g, n0, k0, tid + 512, out sb2);
                    rb3 = LoadB(b, bl.DType, bAt, g, n0, k0, tid + 768, out sb3);
                }
                for (int kk = 0; kk < BK; kk++)
                {
                    int row = kk * Stride;
                    float a0 = As[row + ty], a1 = As[row + ty + 16], a2 = As[row + ty + 32], a3 = As[row + ty + 48];
                    float b0 = Bs[row + tx], b1 = Bs[row + tx + 16], b2 = Bs[row + tx + 32], b3 = Bs[row + tx + 48];
                    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                }
                Group.Barrier();
            }

            long cAt = cl.OffsetOf(batch), rAt = g.HasResidual != 0 ? rl.OffsetOf(batch) : 0, mAt = g.HasMultiplier != 0 ? ml.OffsetOf(batch) : 0;
            int r0 = m0 + ty, q0 = n0 + tx;
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0, q0, c00);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0, q0 + 16, c01);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0, q0 + 32, c02);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0, q0 + 48, c03);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 16, q0, c10);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 16, q0 + 16, c11);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 16, q0 + 32, c12);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 16, q0 + 48, c13);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 32, q0, c20);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 32, q0 + 16, c21);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 32, q0 + 32, c22);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 32, q0 + 48, c23);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 48, q0, c30);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 48, q0 + 16, c31);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 48, q0 + 32, c32);
            Store(c, cl.DType, cAt, bias, res, rl.DType, rAt, mul, ml.DType, mAt, g, r0 + 48, q0 + 48, c33);
        }
    }
}
