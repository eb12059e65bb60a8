using System.Runtime.InteropServices;
using Tessera.Quant;

namespace Tessera.Formats;

/// <summary>Dtype conversions that the backends' copy does not make: block-quantized weights (Q8_0, Q4_0, Q4_K, ...)
/// to floats and floats to blocks, with ggml's reference (de)quantizers (<see cref="BlockQuant"/>), a few million
/// values at a time through host buffers so that any backend works and no staging buffer grows with the tensor.</summary>
internal static class BlockConversion
{
    private const long ChunkElements = 1 << 22; // a multiple of every block size (32, 256)

    /// <summary><paramref name="t"/> converted to <paramref name="to"/> (a new tensor; <paramref name="t"/> is left as it is).</summary>
    public static Tensor Convert(Tensor t, DType to, string file, string tensor)
    {
        if (!t.DType.IsBlock() && !to.IsBlock()) return t.To(to);
        if (t.DType.IsBlock())
        {
            if (!BlockQuant.CanDequantize(t.DType))
                throw new WeightFormatException(file, tensor, $"{t.DType.Name()} {t.Shape} cannot be dequantized (no reference dequantizer for it)");
            var f = Transcode(t, DType.F32);
            if (to == DType.F32) return f;
            using (f) return Convert(f, to, file, tensor);
        }
        if (!t.DType.IsFloat() || !BlockQuant.CanQuantize(to))
            throw new WeightFormatException(file, tensor, $"{t.DType.Name()} {t.Shape} cannot be converted to {to.Name()}");
        int bs = to.BlockSize();
        if (t.Rank == 0 || t.Shape[-1] % bs != 0)
            throw new WeightFormatException(file, tensor, $"{t.DType.Name()} {t.Shape} cannot be quantized to {to.Name()}: the last dimension must be a multiple of its {bs}-value block");
        using var f32 = t.DType == DType.F32 ? t.Contiguous() : t.To(DType.F32);
        return Transcode(f32, to);
    }

    // One side is f32 and the other a type BlockQuant handles; src is contiguous.
    private static Tensor Transcode(Tensor src, DType to)
    {
        var dst = Tensor.Empty(src.Backend, to, src.Shape);
        try
        {
            long n = src.ElementCount, chunk = Math.Min(ChunkElements, Math.Max(n, 1));
            var input = new byte[src.DType.ByteCount(chunk)];
            var output = new byte[to.ByteCount(chunk)];
            for (long done = 0; done < n; done += chunk)
            {
                long c = Math.Min(chunk, n - done);
                var inSpan = input.AsSpan(0, (int)src.DType.ByteCount(c));
                var outSpan = output.AsSpan(0, (int)to.ByteCount(c));
                src.Backend.CopyToHost(src.Storage, src.DType.ByteCount(src.Offset + done), inSpan);
                if (src.DType == DType.F32) BlockQuant.Quantize(to, MemoryMarshal.Cast<byte, float>(inSpan), outSpan);
                else BlockQuant.Dequantize(src.DType, inSpan, MemoryMarshal.Cast<byte, float>(outSpan));
                dst.Backend.CopyFromHost(outSpan, dst.Storage, to.ByteCount(done));
            }
            return dst;
        }
        catch
        {
            dst.Dispose();
            throw;
        }
    }
}
