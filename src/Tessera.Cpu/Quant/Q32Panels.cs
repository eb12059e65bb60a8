using System.Runtime.InteropServices;

namespace Tessera.Cpu.Quant;

/// <summary>
/// Q8_0 / Q4_0 weights [N, K] repacked into panels of 16 weight rows, so that one 512-bit integer dot product
/// (vpdpbusd, or vpmaddubsw + vpmaddwd) serves 16 output columns at once: int32 lane j of a 64-byte chunk belongs to
/// weight row j of the panel, and its 4 bytes are 4 consecutive K elements of that row. The activation side is then a
/// 4-byte broadcast, the block dot of each column lands whole in its lane (no horizontal sums), and the per-block
/// scales are one 16-lane vector. This is the layout contract shared by the managed kernels and the run-time emitted
/// (JIT) ones: both compute exactly <see cref="Q32PanelReference"/>'s arithmetic, so their outputs are bit-identical.
/// <para>Panel p holds weight rows 16p .. 16p + 15 (rows past N are zero bytes) and is <see cref="PanelBytes"/> long:
/// its blocks in order, <see cref="BlockBytes"/> each: the block's quants (<see cref="QuantBytes"/>, 64-byte chunks),
/// then its 16 scales (32 bytes: row j's f16 block scale at byte 2j). Scales beside their quants make a panel one
/// sequential stream, which one core reads from DRAM 10-20% faster than quants and scales as two streams (`peer
/// qpanel --rows 1 --weights dram`, Zen 4).</para>
/// <list type="bullet">
/// <item>Q4_0, 256 quant bytes per block: chunk c (0..3), byte 4j + t = byte 4c + t of row j's 16 stored nibble bytes,
/// so its low nibbles are elements 4c .. 4c + 3 (k-group c) and its high nibbles elements 16 + 4c .. (k-group 4 + c),
/// unsigned 0..15 (the weight is u - 8).</item>
/// <item>Q8_0, 512 quant bytes per block: chunk g (0..7), byte 4j + t = (byte)(q[4g + t] + 128) of row j: k-group g,
/// unsigned 0..255 (the weight is u - 128).</item>
/// </list>
/// </summary>
internal static unsafe class Q32Panels
{
    /// <summary>Weight rows (output columns) per panel.</summary>
    public const int Width = 16;
    /// <summary>Bytes of one block's 16 f16 scales.</summary>
    public const int ScaleBytes = 32;

    public static bool IsPanelFormat(DType t) => t is DType.Q8_0 or DType.Q4_0;

    /// <summary>Quant bytes of one block of a panel.</summary>
    public static int QuantBytes(DType t) => t switch
    {
        DType.Q4_0 => 256,
        DType.Q8_0 => 512,
        _ => throw new ArgumentException($"no panel layout for {t}", nameof(t)),
    };

    /// <summary>What the activation records' correction multiplies: the weight's unsigned offset (8 or 128).</summary>
    public static int Offset(DType t) => t == DType.Q4_0 ? 8 : 128;

    /// <summary>Bytes of one block of a panel: its quants, then its scales.</summary>
    public static int BlockBytes(DType t) => QuantBytes(t) + ScaleBytes;

    public static int Panels(int n) => (n + Width - 1) / Width;

    public static long PanelBytes(DType t, int blocks) => (long)blocks * BlockBytes(t);

    /// <summary>Repacks panels [p0, p1) of a stored GGUF weight (rows of <paramref name="blocks"/> blocks,
    /// <paramref name="srcRowBytes"/> apart) into <paramref name="dst"/> (the whole repacked weight). Scalar: the
    /// definition of the layout; a faster repack must write the same bytes.</summary>
    public static void Repack(DType t, byte* src, long srcRowBytes, int n, int blocks, byte* dst, int p0, int p1)
    {
        int qb = QuantBytes(t), bb = BlockBytes(t), blockBytes = t == DType.Q4_0 ? 18 : 34;
        long panelBytes = PanelBytes(t, blocks);
        for (int p = p0; p < p1; p++)
        {
            byte* panel = dst + p * panelBytes;
            NativeMemory.Clear(panel, (nuint)panelBytes);
            for (int j = 0; j < Width && Width * p + j < n; j++)
            {
                byte* row = src + (Width * p + j) * srcRowBytes;
                for (int b = 0; b < blocks; b++)
                {
                    byte* blk = row + (long)b * blockBytes, q = panel + (long)b * bb;
                    *(ushort*)(q + qb + 2 * j) = *(ushort*)blk;
                    if (t == DType.Q4_0)
                        for (int c = 0; c < 4; c++)
                            for (int i = 0; i < 4; i++) q[64 * c + 4 * j + i] = blk[2 + 4 * c + i];
                    else
                        for (int g = 0; g < 8; g++)
                            for (int i = 0; i < 4; i++) q[64 * g + 4 * j + i] = (byte)(blk[2 + 4 * g + i] ^ 0x80);
                }
            }
        }
    }
}

/// <summary>The activation side of a panel kernel: per 32-element block b and activation row r, a 40-byte record at
/// <c>act + b * blockStride + r * 40</c> (block-major, so that the rows of a tile sit at fixed offsets from one
/// pointer): the block's 32 int8 quants (bytes 0..31), the int32 correction -offset * sum(q) (at 32: the weight's
/// unsigned offset, 8 for Q4_0 and 128 for Q8_0, undone exactly in the integer dot) and the block scale d as f32 (at 36:
/// ggml's Q8_0 activation scale, max|x| / 127 rounded to f16).</summary>
internal static unsafe class Q32ActRecords
{
    public const int RecordBytes = 40, CorrAt = 32, ScaleAt = 36;

    /// <summary>Writes the records of rows [0, xq.Rows) of 32-block quantized activations (<see cref="ActKind.Block32"/>)
    /// for a weight with unsigned <paramref name="offset"/>. Scalar: the definition; rows of a tile past the last real
    /// row must be zero records, which the caller provides by allocating zeroed memory for them.</summary>
    public static void Fill(QuantizedRows xq, int offset, byte* act, long blockStride)
    {
        for (int r = 0; r < xq.Rows; r++)
            for (int b = 0; b < xq.Groups; b++)
            {
                byte* rec = act + b * blockStride + r * RecordBytes;
                new ReadOnlySpan<byte>(xq.Row(r) + 32 * b, 32).CopyTo(new Span<byte>(rec, 32));
                *(int*)(rec + CorrAt) = -offset * xq.QSum[(long)r * xq.Groups + b];
                *(float*)(rec + ScaleAt) = xq.D[(long)r * xq.Groups + b];
            }
    }
}

/// <summary>The arguments of one panel-kernel call (field offsets are fixed: the emitted kernels read them).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct QPanelArgs
{
    /// <summary>Offset 0: the first panel of the call.</summary>
    public byte* Weights;
    /// <summary>Offset 8: record (block 0, row 0) of the tile's first activation row.</summary>
    public byte* Act;
    /// <summary>Offset 16: output (row 0, column 0 of the first panel).</summary>
    public float* Dst;
    /// <summary>Offset 24: bytes from block b's records to block b + 1's.</summary>
    public long ActBlockStride;
    /// <summary>Offset 32: floats from one output row to the next.</summary>
    public long DstRowStride;
    /// <summary>Offset 40: bytes from one panel to the next (<see cref="Q32Panels.PanelBytes"/>).</summary>
    public long PanelBytes;
    /// <summary>Offset 48: 32-element blocks per row (K / 32), at least 1.</summary>
    public int Blocks;
    /// <summary>Offset 52: consecutive panels to compute, at least 1.</summary>
    public int Panels;
    /// <summary>Offset 56: valid columns of the last panel, 1..16 (the others are not written).</summary>
    public int LastCols;
}

/// <summary>The panel kernels' arithmetic, in scalar code: for each of the call's activation rows (1..8)
/// and each valid column j of each panel, acc = 0 and per block b in order: the exact int32 dot
/// corr(b, r) + sum over 32 elements of u * q, then s = dw(b, j) * dx(b, r) (one f32 multiply) and
/// acc = fma((float)dot, s, acc) (one rounding); the output is acc. Every kernel of any row count computes exactly
/// this for each output, so a row's result does not depend on the tile it ran in (batch invariance).</summary>
internal static unsafe class Q32PanelReference
{
    public static void Run(DType t, int rows, QPanelArgs* a)
    {
        int qb = Q32Panels.QuantBytes(t), bb = Q32Panels.BlockBytes(t);
        for (int pp = 0; pp < a->Panels; pp++)
        {
            byte* panel = a->Weights + pp * a->PanelBytes;
            int cols = pp == a->Panels - 1 ? a->LastCols : Q32Panels.Width;
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++)
                {
                    float acc = 0;
                    for (int b = 0; b < a->Blocks; b++)
                    {
                        byte* rec = a->Act + b * a->ActBlockStride + r * Q32ActRecords.RecordBytes;
                        byte* q = panel + (long)b * bb;
                        int dot = *(int*)(rec + Q32ActRecords.CorrAt);
                        for (int e = 0; e < 32; e++) dot += Weight(t, q, j, e) * ((sbyte*)rec)[e];
                        float s = (float)BitConverter.UInt16BitsToHalf(*(ushort*)(q + qb + 2 * j)) * *(float*)(rec + Q32ActRecords.ScaleAt);
                        acc = MathF.FusedMultiplyAdd(dot, s, acc);
                    }
                    a->Dst[r * a->DstRowStride + pp * Q32Panels.Width + j] = acc;
                }
        }
    }

    /// <summary>The unsigned weight u of element e (0..31) of column j in a panel block's quants.</summary>
    public static int Weight(DType t, byte* q, int j, int e) => t == DType.Q4_0
        ? e < 16 ? q[64 * (e / 4) + 4 * j + e % 4] & 15 : q[64 * ((e - 16) / 4) + 4 * j + e % 4] >> 4
        : q[64 * (e / 4) + 4 * j + e % 4];
}

/// <summary>A panel kernel for one format and activation row count: run-time emitted native code (vpdpbusd, which
/// .NET 10 cannot name on this hardware) where <see cref="PanelKernelSource.Emitted"/> gives one, else the managed
/// kernel. Both compute <see cref="Q32PanelReference"/>'s arithmetic.</summary>
internal readonly unsafe struct PanelKernel
{
    private readonly delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void> _native;
    private readonly delegate*<QPanelArgs*, void> _managed;

    public PanelKernel(delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void> native) => _native = native;

    public PanelKernel(delegate*<QPanelArgs*, void> managed) => _managed = managed;

    public bool IsNative => _native != null;

    /// <summary>Runs the kernel on one call's arguments. Native calls skip the GC transition, so the runner keeps each
    /// call short (a few panels of one row tile).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Invoke(QPanelArgs* a)
    {
        if (_native != null) _native(a);
        else _managed(a);
    }
}

/// <summary>Where emitted panel kernels come from: the x86 emitter (src/Tessera.Cpu/Jit) sets <see cref="Emitted"/>
/// to a function that returns the entry point of its kernel for (format, rows 1..8, blocks), emitting it on first
/// request, or 0 where it has none (no AVX512-VNNI, emission switched off, a platform without executable memory). A
/// kernel it returns may be specialized for the block count (the one-row kernels are): calls must then pass that
/// <see cref="QPanelArgs.Blocks"/> and the stride <see cref="Q32Panels.PanelBytes"/> of it.</summary>
internal static class PanelKernelSource
{
    public static Func<DType, int, int, nint>? Emitted;
}
