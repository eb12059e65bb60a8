using System.Globalization;

namespace Tessera.Imaging;

/// <summary>Sauvola's local threshold (Sauvola and Pietikäinen, 2000) on gray (a colour image is converted to gray
/// first): T = m (1 + k (s / R - 1)), with m and s the mean and standard deviation (population) of the
/// <see cref="Window"/> x <see cref="Window"/> square centred on the pixel, clipped to the image at the borders.
/// Pixels above T become 255 (paper), the others 0 (ink), as skimage's <c>image &gt; threshold_sauvola(image)</c>.
/// The window sums come from integral images of the values and their squares, so the cost per pixel does not depend
/// on the window.</summary>
/// <param name="Window">The odd side of the window in pixels.</param>
/// <param name="K">Sauvola's k (0.2 to 0.5 in the literature; 0.2 here by default).</param>
/// <param name="R">The dynamic range of the standard deviation (128 for 8-bit images).</param>
public sealed record SauvolaBinarization(int Window = 25, double K = 0.2, double R = 128) : IImageOperation
{
    /// <inheritdoc/>
    public string Spec => string.Create(CultureInfo.InvariantCulture, $"sauvola:{Window}:{K}:{R}");

    /// <inheritdoc/>
    public void Validate()
    {
        if (Window < 1 || Window % 2 == 0) throw new TesseraException($"sauvola: the window must be odd and positive, got {Window}");
        if (!(R > 0) || double.IsNaN(K)) throw new TesseraException($"sauvola: R must be positive and k a number, got R {R}, k {K}");
    }

    /// <inheritdoc/>
    public Image Apply(Image image)
    {
        Validate();
        var gray = Grayscale.ToGray(image);
        int w = gray.Width, h = gray.Height, r = Window / 2, iw = w + 1;
        var src = gray.Pixels;
        // sum[(y) * iw + x] = the sum over rows < y, columns < x.
        var sum = new long[(long)iw * (h + 1)];
        var sq = new long[(long)iw * (h + 1)];
        for (int y = 0; y < h; y++)
        {
            long rs = 0, rq = 0;
            for (int x = 0; x < w; x++)
            {
                int v = src[y * w + x];
                rs += v; rq += v * v;
                sum[(y + 1) * iw + x + 1] = sum[y * iw + x + 1] + rs;
                sq[(y + 1) * iw + x + 1] = sq[y * iw + x + 1] + rq;
            }
        }
        var dst = new byte[w * h];
        double k = K, invR = 1 / R;
        ImageRows.For(h, 32, (s, e) =>
        {
            for (int y = s; y < e; y++)
            {
                int y0 = Math.Max(y - r, 0), y1 = Math.Min(y + r + 1, h);
                for (int x = 0; x < w; x++)
                {
                    int x0 = Math.Max(x - r, 0), x1 = Math.Min(x + r + 1, w);
                    long n = (long)(y1 - y0) * (x1 - x0);
                    long s1 = sum[y1 * iw + x1] - sum[y0 * iw + x1] - sum[y1 * iw + x0] + sum[y0 * iw + x0];
                    long s2 = sq[y1 * iw + x1] - sq[y0 * iw + x1] - sq[y1 * iw + x0] + sq[y0 * iw + x0];
                    double m = (double)s1 / n;
                    // n * s2 - s1^2 is exact in integers: the variance without cancellation error.
                    double sd = Math.Sqrt((double)(n * s2 - s1 * s1) / ((double)n * n));
                    double t = m * (1 + k * (sd * invR - 1));
                    dst[y * w + x] = src[y * w + x] > t ? (byte)255 : (byte)0;
                }
            }
        });
        return new Image(dst, w, h, 1, gray.Bgr);
    }
}
