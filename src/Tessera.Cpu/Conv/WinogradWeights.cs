using System.Runtime.InteropServices;
using Tessera.Cpu.Gemm;

namespace Tessera.Cpu.Conv;

/// <summary>A 3x3 weight [O, C, 3, 3] in the Winograd F(2x2, 3x3) domain, U = G g G^T (4 x 4 per (o, c) pair), packed as
/// the A operands of the 16 per-position GEMMs M_p [O, tiles] = U_p [O, C] @ V_p [C, tiles]: for each position p and
/// each K block of <see cref="Winograd3x3.KC"/> input channels, panels of 12 output channels x kc (the micro-kernel's
/// A layout, 12 values of one input channel together), output channels past O zero. Made once per constant weight
/// (a derived form of its storage) or per call otherwise.</summary>
internal sealed unsafe class WinogradWeights : IDisposable
{
    private float* _data;

    /// <summary>Transforms and packs w [O, C, 3, 3] (contiguous f32).</summary>
    public WinogradWeights(float* w, int o, int c)
    {
        int mr = MicroKernel.MR;
        O = o; C = c; OPad = (o + mr - 1) / mr * mr;
        long count = 16L * OPad * c;
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        new Span<float>(_data, checked((int)count)).Clear();
        var u = new double[16];
        for (int oc = 0; oc < o; oc++)
            for (int ic = 0; ic < c; ic++)
            {
                Transform(w + ((long)oc * c + ic) * 9, u);
                for (int p = 0; p < 16; p++) *At(p, oc, ic) = (float)u[p];
            }
    }

    /// <summary>Output channels.</summary>
    public int O { get; }

    /// <summary>Input channels (the GEMMs' K).</summary>
    public int C { get; }

    /// <summary>O rounded up to whole 12-row panels.</summary>
    public int OPad { get; }

    /// <summary>The panel of output channels [12 mp, 12 mp + 12) for input channels [k0, k0 + kc) at position p.</summary>
    public float* Panel(int p, int k0, int mp)
    {
        ObjectDisposedException.ThrowIf(_data == null, this);
        int kc = Math.Min(Winograd3x3.KC, C - k0);
        return _data + (long)p * OPad * C + (long)k0 * OPad + (long)mp * MicroKernel.MR * kc;
    }

    private float* At(int p, int oc, int ic)
    {
        int mr = MicroKernel.MR, k0 = ic / Winograd3x3.KC * Winograd3x3.KC;
        return Panel(p, k0, oc / mr) + (long)(ic - k0) * mr + oc % mr;
    }

    /// <summary>u = G g G^T in double, G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]; u[4 i + j].</summary>
    private static void Transform(float* g, double[] u)
    {
        Span<double> t = stackalloc double[12];   // G g: 4 x 3
        for (int j = 0; j < 3; j++)
        {
            double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            t[j] = g0; t[3 + j] = 0.5 * (g0 + g1 + g2); t[6 + j] = 0.5 * (g0 - g1 + g2); t[9 + j] = g2;
        }
        for (int i = 0; i < 4; i++)
        {
            double a0 = t[3 * i], a1 = t[3 * i + 1], a2 = t[3 * i + 2];
            u[4 * i] = a0; u[4 * i + 1] = 0.5 * (a0 + a1 + a2); u[4 * i + 2] = 0.5 * (a0 - a1 + a2); u[4 * i + 3] = a2;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_data != null) { NativeMemory.AlignedFree(_data); _data = null; }
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native panels if Dispose was never called.</summary>
    ~WinogradWeights() => Dispose();
}
