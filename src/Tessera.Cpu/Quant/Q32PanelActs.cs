using System.Runtime.InteropServices;

namespace Tessera.Cpu.Quant;

/// <summary>The activation records of a panel matmul (<see cref="Q32ActRecords"/>: block-major, 40 bytes per row)
/// made straight from f32 rows in one pass: ggml's Q8_0 activation quantization (d = max|x| / 127 rounded to f16,
/// q = round-half-even(x * 127 / max|x|), QuantizedRows' own block quantizer) and the record, with the same values as
/// <see cref="QuantizedRows.Quantize"/> followed by <see cref="Q32ActRecords.Fill"/>. Each block's records are padded to a multiple of 64 bytes with
/// zeros.</summary>
internal sealed unsafe class Q32PanelActs : IDisposable
{
    public readonly int Rows, Blocks;
    /// <summary>Bytes from block b's records to block b + 1's.</summary>
    public readonly long BlockStride;
    private byte* _data;

    public Q32PanelActs(int rows, int blocks)
    {
        if (rows <= 0 || blocks <= 0) throw new ArgumentException($"panel activation records for {rows} rows of {blocks} blocks");
        Rows = rows; Blocks = blocks;
        BlockStride = ((long)rows * Q32ActRecords.RecordBytes + 63) & ~63L;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)(blocks * BlockStride), 64);
        long used = (long)rows * Q32ActRecords.RecordBytes;
        if (used < BlockStride)
            for (int b = 0; b < blocks; b++) NativeMemory.Clear(_data + b * BlockStride + used, (nuint)(BlockStride - used));
    }

    /// <summary>Record (block 0, row <paramref name="r"/>).</summary>
    public byte* Row(int r) => _data + (long)r * Q32ActRecords.RecordBytes;

    /// <summary>Quantizes rows [r0, r1) of a contiguous f32 matrix [Rows, 32 * Blocks] into records for a weight with
    /// unsigned <paramref name="offset"/> (8 for Q4_0, 128 for Q8_0): each block through
    /// <see cref="QuantizedRows.QuantizeGroup"/>, written straight into its record.</summary>
    public void Quantize(float* x, int offset, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * Blocks * 32;
            byte* rec = Row(r);
            for (int b = 0; b < Blocks; b++, xr += 32, rec += BlockStride)
            {
                int sum = QuantizedRows.QuantizeGroup(xr, (sbyte*)rec, 32, out float d, offset128: false, ActKind.Block32);
                *(int*)(rec + Q32ActRecords.CorrAt) = -offset * sum;
                *(float*)(rec + Q32ActRecords.ScaleAt) = d;
            }
        }
    }

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
