using ILGPU;

namespace Tessera.Kernels;

// 2-D convolution (NCHW, groups, stride, padding, dilation) and ViT patch embedding as an implicit GEMM.
// Reference: NaiveImageOps.Conv2d / NaiveImageOps.PatchEmbed (tests/Tessera.Tests/Reference) and
// CpuBackend.Conv2d / CpuBackend.PatchEmbed (src/Tessera.Cpu/CpuBackend.Conv2d.cs).
//
// Design: GemmKernels.Tiled with different loaders and store, and no im2col buffer. For image b and group g,
//   C[o, p] = sum_k W[g*Og + o, k] * X[k, p],  M = Og (output channels of the group), N = OH*OW, K = Cg*KH*KW,
// where k = (c, ky, kx) and p = (oy, ox) are decoded in the loaders and the B tile element is
//   x[b, g*Cg + c, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw]   (0 outside the image).
// - 64x64x16 tiles, 256 threads, each thread a 4x4 register tile (rows ty + 16 i, columns tx + 16 j), two shared
//   tiles of 16 x 68 floats (8.5 KB), register double buffering of the next tile's loads, as the GEMM;
// - the weight tile is loaded k-fastest (a weight row is contiguous in every usual layout), the input tile
//   pixel-fastest (consecutive ox: consecutive addresses for stride 1); any strides work either way;
// - the work (batch * groups * tilesM * tilesN tiles) is walked with a grid-stride loop, so any grid covers it;
//   depthwise (Cg = 1, K = KH*KW) is the same kernel with tiny K;
// - the output is addressed through three strides (image, channel, pixel), so one kernel writes NCHW for conv2d
//   ([B, O, N]: channel stride N, pixel stride 1) and [B, N, D] for patch embedding (channel stride 1, pixel
//   stride D); bias is per output channel, added in the store.
// ILGPU does not unroll loops: the 4x4 tile is written out by hand, and mul then add (no fma).

/// <summary>A 4-D (or fewer) strided operand: dtype (ElementCodes), first element and strides in elements.
/// Host mirror: Tessera.Cuda.Tensor4Arg. Used by the conv and attention kernels.</summary>
public struct Tensor4
{
    public long Offset, S0, S1, S2, S3;
    public int DType, Pad;

    public readonly float Load(ArrayView<byte> buf, long i) => ElementIO.LoadF(buf, DType, i);
}

/// <summary>The geometry of one convolution launch. Host mirror: Tessera.Cuda.ConvGeomArg.</summary>
public struct ConvGeom
{
    public int B, G, Cg, H, W, Og, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW;
    /// <summary>Cg * KH * KW (GEMM K) and OH * OW (GEMM N).</summary>
    public int K, N;
}

/// <summary>The implicit-GEMM convolution family.</summary>
public static class ConvKernels
{
    public const int BM = 64, BN = 64, BK = 16, Threads = 256, Stride = 68;

    // Element e (0..1023) of the weight's 64x16 tile, k-fastest: W[g*Og + m, c, ky, kx] with k = (c, ky, kx).
    private static float LoadW(ArrayView<byte> w, Tensor4 wl, long at, ConvGeom g, int m0, int k0, int e, out int sidx)
    {
        int kk = e & (BK - 1), mm = e >> 4;
        sidx = kk * Stride + mm;
        int m = m0 + mm, k = k0 + kk;
        if (m >= g.Og || k >= g.K) return 0f;
        int kx = k % g.KW, t = k / g.KW;
        int ky = t % g.KH, c = t / g.KH;
        return ElementIO.LoadF(w, wl.DType, at + m * wl.S0 + c * wl.S1 + ky * wl.S2 + kx * wl.S3);
    }

    // Element e of the input's 16x64 tile, pixel-fastest: the input element under kernel tap k of output pixel n.
    private static float LoadX(ArrayView<byte> x, Tensor4 xl, long at, ConvGeom g, int n0, int k0, int e, out int sidx)
    {
        int nn = e & (BN - 1), kk = e >> 6;
        sidx = kk * Stride + nn;
        int n = n0 + nn, k = k0 + kk;
        if (n >= g.N || k >= g.K) return 0f;
        int kx = k % g.KW, t = k / g.KW;
        int ky = t % g.KH, c = t / g.KH;
        int ox = n % g.OW, oy = n / g.OW;
        int iy = oy * g.SH - g.PH + ky * g.DH, ix = ox * g.SW - g.PW + kx * g.DW;
        if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) return 0f;
        return ElementIO.LoadF(x, xl.DType, at + c * xl.S1 + iy * xl.S2 + ix * xl.S3);
    }

    private static void Store(ArrayView<byte> dst, Tensor4 dl, long at, ArrayView<byte> bias, VecArg bl, ConvGeom g, int o0, int m, int n, float acc)
    {
        if (m >= g.Og || n >= g.N) return;
        int o = o0 + m;
        float v = bl.DType >= 0 ? acc + bl.Load(bias, o) : acc;
        ElementIO.StoreF(dst, dl.DType, at + o * dl.S1 + n * dl.S2, v);
    }

    /// <summary>dst[b, o, p] (through dl's image/channel/pixel strides S0/S1/S2) = bias[o] + sum over the group's
    /// input channels and kernel taps of w[o, c, ky, kx] * x[b, g*Cg + c, iy, ix].</summary>
    [Kernel(BlockX = Threads, Reference = "NaiveImageOps.Conv2d; NaiveImageOps.PatchEmbed; CpuBackend.Conv2d",
        Constants = ["BM=64", "BN=64", "BK=16", "TM=4", "TN=4", "Threads=256"])]
    public static void ImplicitGemm(ArrayView<byte> x, Tensor4 xl, ArrayView<byte> w, Tensor4 wl, ArrayView<byte> bias, VecArg bl,
        ArrayView<byte> dst, Tensor4 dl, ConvGeom g)
    {
        var As = SharedMemory.Allocate<float>(BK * Stride);
        var Bs = SharedMemory.Allocate<float>(BK * Stride);
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int tilesN = (g.N + BN - 1) / BN, tilesM = (g.Og + BM - 1) / BM;
        long perImage = (long)tilesM * tilesN, total = perImage * g.B * g.G;
        int kTiles = (g.K + BK - 1) / BK;
        for (long t = Grid.IdxX; t < total; t += Grid.DimX)
        {
            long bg = t / perImage;
            int tile = (int)(t - bg * perImage);
            int b = (int)(bg / g.G), grp = (int)(bg - (long)b * g.G);
            int m0 = tile / tilesN * BM, n0 = tile % tilesN * BN;
            long xAt = xl.Offset + b * xl.S0 + (long)grp * g.Cg * xl.S1;
            long wAt = wl.Offset + (long)grp * g.Og * wl.S0;

            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;

            float ra0 = LoadW(w, wl, wAt, g, m0, 0, tid, out int sa0);
            float ra1 = LoadW(w, wl, wAt, g, m0, 0, tid + 256, out int sa1);
            float ra2 = LoadW(w, wl, wAt, g, m0, 0, tid + 512, out int sa2);
            float ra3 = LoadW(w, wl, wAt, g, m0, 0, tid + 768, out int sa3);
            float rb0 = LoadX(x, xl, xAt, g, n0, 0, tid, out int sb0);
            float rb1 = LoadX(x, xl, xAt, g, n0, 0, tid + 256, out int sb1);
            float rb2 = LoadX(x, xl, xAt, g, n0, 0, tid + 512, out int sb2);
            float rb3 = LoadX(x, xl, xAt, g, n0, 0, tid + 768, out int sb3);

            for (int kt = 0; kt < kTiles; kt++)
            {
                As[sa0] = ra0; As[sa1] = ra1; As[sa2] = ra2; As[sa3] = ra3;
                Bs[sb0] = rb0; Bs[sb1] = rb1; Bs[sb2] = rb2; Bs[sb3] = rb3;
                Group.Barrier();
                if (kt + 1 < kTiles)
                {
                    int k0 = (kt + 1) * BK;
                    ra0 = LoadW(w, wl, wAt, g, m0, k0, tid, out sa0);
                    ra1 = LoadW(w, wl, wAt, g, m0, k0, tid + 256, out sa1);
                    ra2 = LoadW(w, wl, wAt, g, m0, k0, tid + 512, out sa2);
                    ra3 = LoadW(w, wl, wAt, g, m0, k0, tid + 768, out sa3);
                    rb0 = LoadX(x, xl, xAt, g, n0, k0, tid, out sb0);
                    rb1 = LoadX(x, xl, xAt, g, n0, k0, tid + 256, out sb1);
                    rb2 = LoadX(x, xl, xAt, g, n0, k0, tid + 512, out sb2);
                    rb3 = LoadX(x, xl, xAt, g, n0, k0, tid + 768, out sb3);
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

            long dAt = dl.Offset + b * dl.S0;
            int o0 = grp * g.Og, r0 = m0 + ty, q0 = n0 + tx;
            Store(dst, dl, dAt, bias, bl, g, o0, r0, q0, c00);
            Store(dst, dl, dAt, bias, bl, g, o0, r0, q0 + 16, c01);
            Store(dst, dl, dAt, bias, bl, g, o0, r0, q0 + 32, c02);
            Store(dst, dl, dAt, bias, bl, g, o0, r0, q0 + 48, c03);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 16, q0, c10);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 16, q0 + 16, c11);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 16, q0 + 32, c12);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 16, q0 + 48, c13);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 32, q0, c20);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 32, q0 + 16, c21);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 32, q0 + 32, c22);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 32, q0 + 48, c23);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 48, q0, c30);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 48, q0 + 16, c31);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 48, q0 + 32, c32);
            Store(dst, dl, dAt, bias, bl, g, o0, r0 + 48, q0 + 48, c33);
        }
    }
}
