namespace Tessera;

/// <summary>Builds the cosine and sine tables that <see cref="Tensor.Rope(Tensor, Tensor, RopeMode)"/> reads.</summary>
public static class RopeTables
{
    /// <summary>1-D tables [positions, rotaryDim/2]: angle(p, i) = (start + p) * theta^(-2i / rotaryDim).</summary>
    public static (float[] Cos, float[] Sin) Build1D(int positions, int rotaryDim, double theta = 10000, int start = 0)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new TesseraException($"rotary dimension must be even and positive, got {rotaryDim}");
        int half = rotaryDim / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++)
            {
                double a = (start + p) * Math.Pow(theta, -2.0 * i / rotaryDim);
                cos[p * half + i] = (float)Math.Cos(a);
                sin[p * half + i] = (float)Math.Sin(a);
            }
        return (cos, sin);
    }

    /// <summary>2-D tables for a grid of image patches, row-major: the first half of the rotary pairs turn
    /// with the patch's row, the second half with its column, each at the frequencies of a
    /// rotaryDim/2-wide 1-D rotary (as in EVA-02, Pixtral and Qwen2-VL's vision towers).</summary>
    public static (float[] Cos, float[] Sin) Build2D(int rows, int cols, int rotaryDim, double theta = 10000)
    {
        if (rows < 0 || cols < 0) throw new TesseraException($"2-D rotary grid must not be negative, got {rows}x{cols}");
        var rowIds = new int[rows * cols];
        var colIds = new int[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) { rowIds[r * cols + c] = r; colIds[r * cols + c] = c; }
        return Build2D(rowIds, colIds, rotaryDim, theta);
    }

    /// <summary>2-D tables [N, rotaryDim/2] at explicit patch positions (rowIds[i], colIds[i]): for patch grids
    /// that are cropped, packed from several images, or merged (as Qwen2-VL's vision tower does), laid out as
    /// <see cref="Build2D(int, int, int, double)"/> lays out a whole grid.</summary>
    public static (float[] Cos, float[] Sin) Build2D(ReadOnlySpan<int> rowIds, ReadOnlySpan<int> colIds, int rotaryDim, double theta = 10000)
    {
        if (rotaryDim <= 0 || rotaryDim % 4 != 0) throw new TesseraException($"2-D rotary dimension must be a positive multiple of 4, got {rotaryDim}");
        if (rowIds.Length != colIds.Length)
            throw new TesseraException($"2-D rotary positions need one column per row id, got {rowIds.Length} rows and {colIds.Length} columns");
        int half = rotaryDim / 2, quarter = rotaryDim / 4;
        var cos = new float[rowIds.Length * half];
        var sin = new float[rowIds.Length * half];
        for (int p = 0; p < rowIds.Length; p++)
        {
            int at = p * half, r = rowIds[p], c = colIds[p];
            for (int i = 0; i < quarter; i++)
            {
                double f = Math.Pow(theta, -2.0 * i / half);
                cos[at + i] = (float)Math.Cos(r * f); sin[at + i] = (float)Math.Sin(r * f);
                cos[at + quarter + i] = (float)Math.Cos(c * f); sin[at + quarter + i] = (float)Math.Sin(c * f);
            }
        }
        return (cos, sin);
    }
}
