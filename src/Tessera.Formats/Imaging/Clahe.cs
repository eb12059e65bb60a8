using System.Globalization;

namespace Tessera.Imaging;

/// <summary>Contrast-limited adaptive histogram equalisation as cv2.createCLAHE(clipLimit, tileGridSize).apply on a
/// gray image (a colour image is converted to gray first; the result has one channel). The image is cut into
/// <see cref="TilesX"/> x <see cref="TilesY"/> tiles (when either side is not a multiple of the grid, both are
/// extended at the right and bottom with BORDER_REFLECT_101 by grid - side % grid, as OpenCV does); each tile's 256-bin
/// histogram is clipped at max(floor(clipLimit * tileArea / 256), 1) counts, the clipped excess spread evenly over
/// all bins and its remainder one count a bin at a step of 256 / remainder from bin 0; its cumulative histogram
/// scaled by 255 / tileArea (rounded) is the tile's mapping. Each pixel's value is the bilinear blend of the
/// mappings of the four tiles whose centres surround it (the nearest tiles at the edges). A clip limit &lt;= 0 means
/// no clipping (plain tiled equalisation).</summary>
/// <param name="ClipLimit">The clip limit, relative to a flat histogram (OpenCV's default 40; 2 is common).</param>
/// <param name="TilesX">Tiles across.</param>
/// <param name="TilesY">Tiles down.</param>
public sealed record Clahe(double ClipLimit = 2.0, int TilesX = 8, int TilesY = 8) : IImageOperation
{
    /// <inheritdoc/>
    public string Spec => string.Create(CultureInfo.InvariantCulture, $"clahe:{ClipLimit}:{TilesX}x{TilesY}");

    /// <inheritdoc/>
    public void Validate()
    {
        if (TilesX < 1 || TilesY < 1 || TilesX > 256 || TilesY > 256 || double.IsNaN(ClipLimit))
            throw new TesseraException($"clahe: the tile grid must be 1 to 256 each way, got {TilesX}x{TilesY} (clip limit {ClipLimit})");
    }

    /// <inheritdoc/>
    public Image Apply(Image image)
    {
        Validate();
        var gray = Grayscale.ToGray(image);
        int w = gray.Width, h = gray.Height;
        // The extended image's size, a multiple of the grid (as OpenCV, both sides grow by up to a whole tile when
        // either is not a multiple); tile sizes follow.
        bool exact = w % TilesX == 0 && h % TilesY == 0;
        int ew = exact ? w : w + TilesX - w % TilesX, eh = exact ? h : h + TilesY - h % TilesY;
        int tw = ew / TilesX, th = eh / TilesY, area = tw * th;
        int clip = ClipLimit > 0 ? Math.Max((int)(ClipLimit * area / 256), 1) : 0;
        float lutScale = 255f / area;
        var src = gray.Pixels;
        var luts = new byte[TilesX * TilesY * 256];
        ImageRows.For(TilesX * TilesY, 1, (s, e) =>
        {
            Span<int> hist = stackalloc int[256];
            for (int t = s; t < e; t++)
            {
                hist.Clear();
                int tx = t % TilesX, ty = t / TilesX;
                for (int y = ty * th; y < (ty + 1) * th; y++)
                {
                    int row = ImageRows.Reflect101(y, h) * w;
                    for (int x = tx * tw; x < (tx + 1) * tw; x++) hist[src[row + ImageRows.Reflect101(x, w)]]++;
                }
                if (clip > 0) Clip(hist, clip);
                int sum = 0;
                for (int i = 0; i < 256; i++)
                {
                    sum += hist[i];
                    luts[t * 256 + i] = (byte)Math.Clamp(MathF.Round(sum * lutScale), 0, 255);
                }
            }
        });
        var dst = new byte[w * h];
        float invTw = 1f / tw, invTh = 1f / th;
        // Per column: the two tiles to blend and the weight of the right one.
        var tx1 = new int[w]; var tx2 = new int[w]; var xa = new float[w];
        for (int x = 0; x < w; x++)
        {
            float txf = x * invTw - 0.5f;
            int t1 = (int)MathF.Floor(txf);
            xa[x] = txf - t1;
            tx1[x] = Math.Max(t1, 0);
            tx2[x] = Math.Min(t1 + 1, TilesX - 1);
        }
        ImageRows.For(h, 16, (s, e) =>
        {
            for (int y = s; y < e; y++)
            {
                float tyf = y * invTh - 0.5f;
                int t1 = (int)MathF.Floor(tyf);
                float ya = tyf - t1;
                int ty1 = Math.Max(t1, 0), ty2 = Math.Min(t1 + 1, TilesY - 1);
                int lut1 = ty1 * TilesX * 256, lut2 = ty2 * TilesX * 256;
                for (int x = 0; x < w; x++)
                {
                    int v = src[y * w + x];
                    float a = xa[x];
                    float top = luts[lut1 + tx1[x] * 256 + v] * (1 - a) + luts[lut1 + tx2[x] * 256 + v] * a;
                    float bottom = luts[lut2 + tx1[x] * 256 + v] * (1 - a) + luts[lut2 + tx2[x] * 256 + v] * a;
                    dst[y * w + x] = (byte)Math.Clamp(MathF.Round(top * (1 - ya) + bottom * ya), 0, 255);
                }
            }
        });
        return new Image(dst, w, h, 1, gray.Bgr);
    }

    // OpenCV's clipping: cut every bin at the limit, spread the excess evenly, then the remainder from bin 0 at a step.
    private static void Clip(Span<int> hist, int limit)
    {
        int clipped = 0;
        for (int i = 0; i < 256; i++)
            if (hist[i] > limit) { clipped += hist[i] - limit; hist[i] = limit; }
        int batch = clipped / 256, residual = clipped - batch * 256;
        for (int i = 0; i < 256; i++) hist[i] += batch;
        if (residual != 0)
        {
            int step = Math.Max(256 / residual, 1);
            for (int i = 0; i < 256 && residual > 0; i += step, residual--) hist[i]++;
        }
    }
}
