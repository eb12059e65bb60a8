namespace Tessera.Models.Diffusion;

/// <summary>DiT's fixed 2-D sin-cos position embeddings (diffusers' get_2d_sincos_pos_embed, as PatchEmbed builds them).</summary>
public static class DitPositions
{
    /// <summary>[rows * cols, dim] in row-major patch order: the first dim/2 columns embed the column coordinate, the
    /// rest the row coordinate, each as [sin(pos w_k), cos(pos w_k)] with w_k = 10000^(-k / (dim/4)); coordinates are
    /// index / (n / baseSize) so that a grid other than the trained baseSize one spans the same range.</summary>
    public static Tensor SinCos2d(IBackend backend, int dim, int rows, int cols, int baseSize)
    {
        if (baseSize <= 0) throw new TesseraException($"2-D sin-cos positions: grid {rows}x{cols} (base {baseSize}) must be positive");
        return SinCos2d(backend, dim, rows, cols, (double)rows / baseSize, (double)cols / baseSize);
    }

    /// <summary>The same table with the plain patch indices as coordinates (the original DiT's get_2d_sincos_pos_embed,
    /// which does not rescale: row r, column c).</summary>
    public static Tensor SinCos2dIndices(IBackend backend, int dim, int rows, int cols) => SinCos2d(backend, dim, rows, cols, 1, 1);

    // Coordinates are row / rowStep and column / colStep.
    private static Tensor SinCos2d(IBackend backend, int dim, int rows, int cols, double rowStep, double colStep)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (dim % 4 != 0 || dim <= 0) throw new TesseraException($"2-D sin-cos positions: the width {dim} must be a positive multiple of 4");
        if (rows <= 0 || cols <= 0) throw new TesseraException($"2-D sin-cos positions: grid {rows}x{cols} must be positive");
        int quarter = dim / 4, half = dim / 2;
        var v = new float[rows * cols * dim];
        for (int r = 0; r < rows; r++)
        {
            double y = r / rowStep;
            for (int c = 0; c < cols; c++)
            {
                double x = c / colStep;
                int o = (r * cols + c) * dim;
                for (int k = 0; k < quarter; k++)
                {
                    double w = 1.0 / Math.Pow(10000, (double)k / quarter);
                    v[o + k] = (float)Math.Sin(x * w);
                    v[o + quarter + k] = (float)Math.Cos(x * w);
                    v[o + half + k] = (float)Math.Sin(y * w);
                    v[o + half + quarter + k] = (float)Math.Cos(y * w);
                }
            }
        }
        return Tensor.FromArray(backend, v, rows * cols, dim);
    }
}
