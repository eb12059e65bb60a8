using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Cpu.Gemm;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu.Conv;

/// <summary>3x3, stride 1, padding 1 convolution (one group, NCHW, f32) by Winograd F(2x2, 3x3): each 2 x 2 output tile
/// costs 16 multiplies per (input, output) channel pair instead of 36, so the GEMMs do 4/9 of im2col + GEMM's
/// arithmetic. Per band of tile rows (one work item, on one thread): the input transform writes V_p [C, tiles] for the
/// 16 positions p straight into the 12x32 micro-kernel's packed B panels, 16 GEMMs M_p [O, tiles] = U_p @ V_p run on
/// <see cref="MicroKernel.Kernel12x32"/> with U pre-transformed and packed (<see cref="WinogradWeights"/>), and the
/// output transform writes 2 x 2 pixels per tile with the bias and the epilogue. No im2col matrix: V and M of a band
/// are sized to stay within a few MB.
/// Error: the transforms add and halve, so the result differs from the direct sum by a few roundings of sums of
/// partial products (normalised MSE ~1e-13 on random data, the op table's bound being 1e-7).</summary>
internal static unsafe class Winograd3x3
{
    /// <summary>K block of the GEMMs (input channels): a 12 x KC A panel (12 KB) stays in L1 while the band's B
    /// panels stream from L2.</summary>
    public const int KC = 256;

    /// <summary>Floats of V + M a band may hold (8 MB).</summary>
    private const long BandFloats = 1L << 21;

    /// <summary>Fewest input and output channels: below, the transforms cost more than the multiplies they save.</summary>
    public const int MinChannels = 32;

    /// <summary>Most tiles computed per tile of a row: a tile row is padded to whole groups of 16 tiles (32 pixels), and
    /// past 1.7x the padded GEMMs (4/9 of the direct multiplies each) and transforms lose their edge over im2col
    /// (reckoned, not measured: a 10-pixel row computes 16 tiles for 5).</summary>
    private const double MaxRowPadding = 1.7;

    /// <summary>Whether this machine can run it (AVX-512, the 12 x 32 micro-kernel).</summary>
    public static bool Supported => Avx512F.IsSupported && Vector512.IsHardwareAccelerated && MicroKernel.MR == 12 && MicroKernel.NR == 32;

    /// <summary>Whether a convolution is one this route computes and should: a 3x3 kernel at stride 1, padding 1,
    /// dilation 1, one group, at least <see cref="MinChannels"/> channels in and out, rows whose padding to whole
    /// 16-tile groups stays under <see cref="MaxRowPadding"/> (19, 37, 57 ... pixels and up; any multiple of 32).</summary>
    public static bool Applies(int groups, int kh, int kw, Conv2dParams p, int inChannels, int outChannels, int outWidth)
    {
        int ntx = (outWidth + 1) / 2, ntxPad = (ntx + 15) / 16 * 16;
        return Supported && groups == 1 && kh == 3 && kw == 3 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 1 && p.PadW == 1
            && p.DilationH == 1 && p.DilationW == 1 && inChannels >= MinChannels && outChannels >= MinChannels
            && ntx > 0 && ntxPad <= MaxRowPadding * ntx;
    }

    /// <summary>dst [B, O, H, W] = conv3x3(x [B, C, H, W], U) + bias [O] (or none), then the activation and affine of
    /// <paramref name="p"/>; all contiguous f32.</summary>
    public static void Run(float* x, WinogradWeights u, float* bias, float* dst, int batch, int h, int w, Conv2dParams p, int threads)
    {
        int c = u.C, o = u.O;
        int nty = (h + 1) / 2, ntx = (w + 1) / 2, ntxPad = (ntx + 15) / 16 * 16;
        long maxTiles = Math.Max(32, BandFloats / (16L * (c + u.OPad)));
        int bandRows = (int)Math.Clamp(maxTiles / ntxPad, 1, nty);
        int bands = (nty + bandRows - 1) / bandRows;
        // Whole rounds of bands for the threads, tile rows spread evenly (bands differ by one row at most): on two
        // threads, 11 bands of 3 rows (a 64 x 64 map at 512 channels) left one thread 18 rows and the other 14.
        if (threads > 1) bands = Math.Min(nty, (bands + threads - 1) / threads * threads);
        bandRows = (nty + bands - 1) / bands;
        int tPadMax = (bandRows * ntxPad + 31) / 32 * 32;
        int lp = WinogradTransforms.PaddedRow(ntxPad);
        CpuParallel.For((long)batch * bands, threads, 1, (i0, i1) =>
        {
            using var v = new Scratch(16L * c * tPadMax);
            using var m = new Scratch(16L * u.OPad * tPadMax);
            using var plane = new Scratch((2L * bandRows + 2) * lp);
            using var tmp = new Scratch(4L * lp);
            for (long it = i0; it < i1; it++)
            {
                int bi = (int)(it / bands), k = (int)(it % bands);
                int ty0 = (int)((long)nty * k / bands), rows = (int)((long)nty * (k + 1) / bands) - ty0;
                int tPad = (rows * ntxPad + 31) / 32 * 32;
                WinogradTransforms.Input(x + (long)bi * c * h * w, c, h, w, ty0, rows, ntxPad, tPad, v.P, plane.P, tmp.P);
                Multiply(u, v.P, m.P, tPad);
                WinogradTransforms.Output(m.P, (long)u.OPad * tPad, tPad, o, bias, dst + (long)bi * o * h * w, h, w, ty0, rows, ntxPad, p);
            }
        });
    }

    /// <summary>M_p [OPad, tPad] = U_p [OPad, C] @ V_p [C, tPad] for the 16 positions, all operands packed and padded
    /// (no edge tiles). Each A panel (12 x kc) serves every B panel of the band before the next is read.</summary>
    private static void Multiply(WinogradWeights u, float* v, float* m, int tPad)
    {
        int c = u.C, panelsM = u.OPad / MicroKernel.MR, panelsN = tPad / MicroKernel.NR;
        for (int p = 0; p < 16; p++)
        {
            float* vp = v + (long)p * c * tPad, mp = m + (long)p * u.OPad * tPad;
            for (int k0 = 0; k0 < c; k0 += KC)
            {
                int kc = Math.Min(KC, c - k0);
                float* vk = vp + (long)k0 * tPad;
                for (int i = 0; i < panelsM; i++)
                {
                    float* a = u.Panel(p, k0, i), ci = mp + (long)i * MicroKernel.MR * tPad;
                    for (int j = 0; j < panelsN; j++)
                        MicroKernel.Kernel12x32(kc, a, vk + (long)j * MicroKernel.NR * kc, ci + j * MicroKernel.NR, tPad, k0 > 0);
                }
            }
        }
    }
}
