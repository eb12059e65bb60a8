using System.Runtime.InteropServices;

namespace Tessera.Cpu.Quant;

/// <summary>A Q8_0/Q4_0 weight [N, K] repacked into 16-row panels (<see cref="Q32Panels"/>), in 64-byte aligned native
/// memory; the derived form a constant weight keeps with its storage.</summary>
internal sealed unsafe class Q32PanelWeight : IDisposable
{
    public readonly DType Type;
    public readonly int N, K, Blocks, Panels;
    public readonly long PanelBytes;
    private byte* _data;

    private Q32PanelWeight(DType t, int n, int k)
    {
        Type = t; N = n; K = k;
        Blocks = k / 32;
        Panels = Q32Panels.Panels(n);
        PanelBytes = Q32Panels.PanelBytes(t, Blocks);
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(Panels * PanelBytes, 64), 64);
    }

    /// <summary>Start of panel 0.</summary>
    public byte* Data => _data;

    /// <summary>Valid columns of the last panel (1..16).</summary>
    public int LastCols => N - Q32Panels.Width * (Panels - 1);

    /// <summary>Repacks a stored GGUF Q8_0/Q4_0 weight [N, K] (rows contiguous) on up to <paramref name="threads"/> threads.</summary>
    public static Q32PanelWeight Repack(DType t, byte* src, int n, int k, int threads)
    {
        if (!Q32Panels.IsPanelFormat(t) || n <= 0 || k <= 0 || k % 32 != 0)
            throw new ArgumentException($"no panel layout for a {t} weight [{n}, {k}] (Q8_0/Q4_0, K a positive multiple of 32)");
        var w = new Q32PanelWeight(t, n, k);
        long rowBytes = t.ByteCount(k);
        byte* dst = w._data;
        CpuParallel.For(w.Panels, threads, 4, (p0, p1) => Q32PanelRepack.Run(t, src, rowBytes, n, w.Blocks, dst, (int)p0, (int)p1));
        return w;
    }

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}

/// <summary>The fast repack: the same bytes as <see cref="Q32Panels.Repack"/>, moved 4 bytes at a time (a 4-byte
/// k-group of one row is one int32 lane of a chunk), and only a panel with rows past N cleared first.</summary>
internal static unsafe class Q32PanelRepack
{
    public static void Run(DType t, byte* src, long srcRowBytes, int n, int blocks, byte* dst, int p0, int p1)
    {
        int qb = Q32Panels.QuantBytes(t), bb = Q32Panels.BlockBytes(t), blockBytes = t == DType.Q4_0 ? 18 : 34, groups = t == DType.Q4_0 ? 4 : 8;
        uint flip = t == DType.Q4_0 ? 0u : 0x80808080u; // Q8_0 stores q + 128: the sign bit of each byte flipped
        long panelBytes = Q32Panels.PanelBytes(t, blocks);
        for (int p = p0; p < p1; p++)
        {
            byte* panel = dst + p * panelBytes;
            int rows = Math.Min(Q32Panels.Width, n - Q32Panels.Width * p);
            if (rows < Q32Panels.Width) NativeMemory.Clear(panel, (nuint)panelBytes);
            for (int j = 0; j < rows; j++)
            {
                byte* blk = src + (Q32Panels.Width * p + j) * srcRowBytes;
                byte* q = panel + 4 * j;
                ushort* s = (ushort*)(panel + qb) + j;   // row j's scale in block 0, right after the block's quants
                for (int b = 0; b < blocks; b++, blk += blockBytes, q += bb, s += bb / 2)
                {
                    *s = *(ushort*)blk;
                    for (int g = 0; g < groups; g++) *(uint*)(q + 64 * g) = *(uint*)(blk + 2 + 4 * g) ^ flip;
                }
            }
        }
    }
}
