using Tessera.Imaging;
namespace Tessera.Models;

/// <summary>PaddleOCR's preprocessing of text-line crops for recognition (tools/infer/predict_rec.py,
/// resize_norm_img): each crop is resized to height 48 keeping its aspect ratio (width ceil(48 w / h), at most the
/// batch width), in OpenCV's B, G, R channel order, scaled to (x / 255 - 0.5) / 0.5, and placed at the left of a
/// zero (mid-grey) canvas as wide as the batch: 48 times the largest width/height ratio in the batch, and at least
/// <c>minWidth</c> (320). Kept apart from the model because the detector and the direction classifier crop and
/// normalise the same way.</summary>
public static class PpOcrPreprocess
{
    /// <summary>The batch width PaddleOCR chooses for these crops.</summary>
    public static int BatchWidth(IReadOnlyList<Image> lines, int height = 48, int minWidth = 320)
    {
        double ratio = (double)minWidth / height;
        foreach (var l in lines) ratio = Math.Max(ratio, (double)l.Width / l.Height);
        return (int)(height * ratio);
    }

    /// <summary>The crops as one normalised batch [N, 3, height, BatchWidth].</summary>
    public static Tensor Batch(IBackend backend, IReadOnlyList<Image> lines, int height = 48, int minWidth = 320)
    {
        if (lines.Count == 0) throw new TesseraException("PP-OCR preprocessing: no line images");
        foreach (var l in lines) l.Validate();
        int width = BatchWidth(lines, height, minWidth);
        long plane = (long)height * width;
        var data = new float[checked(lines.Count * 3 * plane)];
        for (int i = 0; i < lines.Count; i++)
        {
            var l = lines[i];
            int rw = (int)Math.Min(width, Math.Ceiling(height * (double)l.Width / l.Height));
            var resized = ResizeBilinear(l, rw, height);
            for (int c = 0; c < 3; c++)
            {
                var dst = data.AsSpan((int)((i * 3 + c) * plane), (int)plane);
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < rw; x++)
                        dst[y * width + x] = (resized[(y * rw + x) * 3 + c] / 255f - 0.5f) / 0.5f;
            }
        }
        return Tensor.FromArray(backend, data, lines.Count, 3, height, width);
    }

    /// <summary>cv2.resize(img, (w, h)) with INTER_LINEAR on 8-bit BGR pixels: half-pixel centres, edges clamped,
    /// 11-bit fixed-point weights and a rounded 8-bit result, after OpenCV's scalar reference path (its SIMD path
    /// rounds the vertical pass slightly differently, so a value may differ from it by one level).</summary>
    public static byte[] ResizeBilinear(Image img, int w, int h)
    {
        img.Validate();
        const int Bits = 11, One = 1 << Bits;
        var (xi, xa) = Taps(img.Width, w);
        var (yi, ya) = Taps(img.Height, h);
        var result = new byte[w * h * 3];
        var row0 = new int[w * 3];
        var row1 = new int[w * 3];
        void HRow(int sy, int[] row)
        {
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    row[x * 3 + c] = img.Bgr8(xi[x], sy, c) * (One - xa[x]) + img.Bgr8(Math.Min(xi[x] + 1, img.Width - 1), sy, c) * xa[x];
        }
        for (int y = 0; y < h; y++)
        {
            HRow(yi[y], row0);
            HRow(Math.Min(yi[y] + 1, img.Height - 1), row1);
            int b1 = ya[y], b0 = One - b1;
            for (int i = 0; i < w * 3; i++)
            {
                long v = ((long)row0[i] * b0 + (long)row1[i] * b1 + (1L << (2 * Bits - 1))) >> (2 * Bits);
                result[y * w * 3 + i] = (byte)Math.Clamp(v, 0, 255);
            }
        }
        return result;
    }

    // Source index and the 11-bit weight of the next pixel for each destination index, as OpenCV's resize
    // computes them: fx = (d + 0.5) * src / dst - 0.5, clamped at the borders.
    private static (int[] Index, int[] Alpha) Taps(int src, int dst)
    {
        var index = new int[dst];
        var alpha = new int[dst];
        double scale = (double)src / dst;
        for (int d = 0; d < dst; d++)
        {
            double f = (d + 0.5) * scale - 0.5;
            int s = (int)Math.Floor(f);
            double a = f - s;
            if (s < 0) { s = 0; a = 0; }
            if (s >= src - 1) { s = src - 1; a = 0; }
            index[d] = s;
            alpha[d] = (int)Math.Round(a * 2048);
        }
        return (index, alpha);
    }
}
