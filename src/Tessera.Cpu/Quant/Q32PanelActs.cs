using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>The activation records of a panel matmul (<see cref="Q32ActRecords"/>: block-major, 40 bytes per row)
/// made straight from f32 rows in one pass: ggml's Q8_0 activation quantization (d = max|x| / 127 rounded to f16,
/// q = round-half-even(x * 127 / max|x|)) and the record, with the same values as <see cref="QuantizedRows.Quantize"/>
/// followed by <see cref="Q32ActRecords.Fill"/>. Each block's records are padded to a multiple of 64 bytes with
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
    /// unsigned <paramref name="offset"/> (8 for Q4_0, 128 for Q8_0).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Quantize(float* x, int offset, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * Blocks * 32;
            byte* rec = Row(r);
            for (int b = 0; b < Blocks; b++, xr += 32, rec += BlockStride)
            {
                if (!Avx512F.IsSupported) { Scalar(xr, offset, rec); continue; }
                var v0 = Vector512.Load(xr);
                var v1 = Vector512.Load(xr + 16);
                var m = Vector512.Max(Vector512.Abs(v0), Vector512.Abs(v1));
                var m8 = Vector256.Max(m.GetLower(), m.GetUpper());
                float amax = 0;
                for (int l = 0; l < 8; l++) amax = MathF.Max(amax, m8.GetElement(l));
                var vid = Vector512.Create(amax == 0 ? 0 : 127f / amax);
                // vcvtps2dq rounds half to even (default MXCSR), as QuantizedRows does; vpmovdb narrows to bytes.
                var q0 = Avx512F.ConvertToVector512Int32(v0 * vid);
                var q1 = Avx512F.ConvertToVector512Int32(v1 * vid);
                Avx512F.ConvertToVector128SByte(q0).Store((sbyte*)rec);
                Avx512F.ConvertToVector128SByte(q1).Store((sbyte*)rec + 16);
                *(int*)(rec + Q32ActRecords.CorrAt) = -offset * Vector512.Sum(q0 + q1);
                *(float*)(rec + Q32ActRecords.ScaleAt) = (float)(Half)(amax / 127f);
            }
        }
    }

    /// <summary>One block without AVX-512 (the panel path runs only with it; kept so the type is complete).</summary>
    private static void Scalar(float* x, int offset, byte* rec)
    {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
        float id = amax == 0 ? 0 : 127f / amax;
        int sum = 0;
        for (int i = 0; i < 32; i++)
        {
            int v = (int)MathF.Round(x[i] * id);
            sum += v;
            ((sbyte*)rec)[i] = (sbyte)v;
        }
        *(int*)(rec + Q32ActRecords.CorrAt) = -offset * sum;
        *(float*)(rec + Q32ActRecords.ScaleAt) = (float)(Half)(amax / 127f);
    }

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
