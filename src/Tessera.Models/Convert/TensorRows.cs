using Microsoft.Win32.SafeHandles;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Quant;

namespace Tessera.Models.Conversion;

/// <summary>Converts one stored tensor row by row: each row read from the file in place (no mapping, no backend),
/// widened to f32 with ggml's conversions, then written in the target ggml type with ggml's reference quantizers;
/// rows split over threads, q/k rows taken in llama.cpp's permuted order.</summary>
internal static class TensorRows
{
    public static byte[] Convert(TensorInfo info, DType stored, GgmlType target, QkRowPermutation? perm, int threads)
    {
        long rows = info.Dims.Count == 2 ? info.Dims[0] : 1;
        long cols = info.Dims.Count == 2 ? info.Dims[1] : info.Dims[0];
        if (perm is not null && info.Dims.Count == 1) (rows, cols) = (cols, 1); // a bias: one value a row
        var dtype = GgmlTypes.ToDType((uint)target) ?? throw new TesseraException($"convert: no Tessera type for {GgmlTypes.Name((uint)target)}");
        long inRow = stored.ByteCount(cols), outRow = dtype.ByteCount(cols);
        if (perm is not null && info.Dims.Count == 1 && (stored.IsBlock() || dtype.IsBlock()))
            throw new TesseraException($"convert: '{info.Name}' cannot be permuted in {stored.Name()}");
        var output = new byte[checked(rows * outRow)];
        using var file = File.OpenHandle(info.File, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (RandomAccess.GetLength(file) < info.Offset + info.ByteLength)
            throw new WeightFormatException(info.File, info.Name, "the file is shorter than the tensor's data (truncated?)");
        Parallel.For(0L, rows, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) },
            () => (Raw: new byte[inRow], Values: new float[cols]),
            (r, _, buf) =>
            {
                long src = perm?.SourceRow(r) ?? r;
                Read(file, buf.Raw, info.Offset + src * inRow, info);
                BlockQuant.Dequantize(stored, buf.Raw, buf.Values);
                BlockQuant.Quantize(dtype, buf.Values, output.AsSpan((int)(r * outRow), (int)outRow));
                return buf;
            }, _ => { });
        return output;
    }

    private static void Read(SafeFileHandle file, Span<byte> dst, long offset, TensorInfo info)
    {
        while (dst.Length > 0)
        {
            int n = RandomAccess.Read(file, dst, offset);
            if (n <= 0) throw new WeightFormatException(info.File, info.Name, "the file ended inside the tensor's data");
            dst = dst[n..];
            offset += n;
        }
    }
}
