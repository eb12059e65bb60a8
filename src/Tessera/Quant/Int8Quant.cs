namespace Tessera.Quant;

/// <summary>Per-row symmetric int8 quantization (Tessera's "int8" weight type): each row of <c>cols</c> values gets
/// <c>scale = max|x| / 127</c> and <c>q = clamp(round_half_even(x / scale), -127, 127)</c>, so <c>x ≈ q * scale</c>.
/// -128 is never produced, which keeps <c>q * q</c> sums symmetric for the VNNI kernels.</summary>
public static class Int8Quant
{
    /// <summary>Quantizes a row-major <paramref name="rows"/> x <paramref name="cols"/> matrix: one scale per row.</summary>
    public static void QuantizeRows(ReadOnlySpan<float> src, int rows, int cols, Span<sbyte> q, Span<float> scales)
    {
        Check(src.Length, rows, cols, q.Length, scales.Length);
        for (int r = 0; r < rows; r++)
        {
            var x = src.Slice(r * cols, cols);
            var qr = q.Slice(r * cols, cols);
            float amax = 0;
            for (int j = 0; j < cols; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float scale = amax / 127f;
            float inv = scale != 0 ? 1f / scale : 0f;
            scales[r] = scale;
            for (int j = 0; j < cols; j++)
                qr[j] = (sbyte)Math.Clamp((int)MathF.Round(x[j] * inv, MidpointRounding.ToEven), -127, 127);
        }
    }

    /// <summary>Inverse of <see cref="QuantizeRows"/>: <c>dst[r, j] = q[r, j] * scales[r]</c>.</summary>
    public static void DequantizeRows(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, int rows, int cols, Span<float> dst)
    {
        Check(dst.Length, rows, cols, q.Length, scales.Length);
        for (int r = 0; r < rows; r++)
        {
            float s = scales[r];
            for (int j = 0; j < cols; j++) dst[r * cols + j] = q[r * cols + j] * s;
        }
    }

    private static void Check(int values, int rows, int cols, int quants, int scales)
    {
        if (rows < 0 || cols < 0 || (long)rows * cols != values || values != quants || scales != rows)
            throw new TesseraException($"int8 row quantization of [{rows}, {cols}]: got {values} values, {quants} quants and {scales} scales (need {(long)rows * cols}, {(long)rows * cols}, {rows})");
    }
}
