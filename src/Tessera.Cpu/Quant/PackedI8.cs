using System.Runtime.InteropServices;

namespace Tessera.Cpu.Quant;

/// <summary>An int8 weight [N, K] repacked for the VNNI micro-kernel, kept with a constant weight's storage.
/// Layout: ceil(N/24) panels of 24 output columns; within a panel, ceil(K/4) groups of 24 columns x 4 consecutive
/// k (96 bytes), so one 32-byte load feeds a vpdpbusd with 8 columns' 4-element dot products. Padding is zero.
/// Beside it, 128 * (sum over k of w[n, k]) per column: the int8 GEMM feeds activations as q + 128 (vpdpbusd wants
/// unsigned x signed) and subtracts that term.</summary>
internal sealed unsafe class PackedI8 : IDisposable
{
    public const int NR = 24;

    public readonly int N, K, K4, Panels;
    public sbyte* Data;
    public int* Corr;

    public PackedI8(sbyte* w, int n, int k)
    {
        N = n; K = k; K4 = (k + 3) / 4; Panels = (n + NR - 1) / NR;
        long bytes = (long)Panels * K4 * NR * 4;
        Data = (sbyte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        NativeMemory.Clear(Data, (nuint)bytes);
        Corr = (int*)NativeMemory.AlignedAlloc((nuint)(Panels * NR * 4), 64);
        NativeMemory.Clear(Corr, (nuint)(Panels * NR * 4));
        for (int j = 0; j < n; j++)
        {
            sbyte* src = w + (long)j * k;
            sbyte* dst = Panel(j / NR) + (j % NR) * 4;
            int sum = 0;
            for (int kk = 0; kk < k; kk++)
            {
                dst[(long)(kk >> 2) * NR * 4 + (kk & 3)] = src[kk];
                sum += src[kk];
            }
            Corr[j] = 128 * sum;
        }
    }

    /// <summary>Start of panel p (columns 24p .. 24p+23).</summary>
    public sbyte* Panel(int p) => Data + (long)p * K4 * NR * 4;

    public void Dispose()
    {
        if (Data == null) return;
        NativeMemory.AlignedFree(Data); NativeMemory.AlignedFree(Corr);
        Data = null; Corr = null;
    }
}
