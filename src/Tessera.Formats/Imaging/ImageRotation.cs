namespace Tessera.Imaging;

/// <summary>Rotation of an image about its centre ((w - 1) / 2, (h - 1) / 2), keeping its size, as
/// cv2.warpAffine(img, cv2.getRotationMatrix2D(centre, angle, 1), (w, h), INTER_LINEAR, BORDER_REPLICATE): each
/// output pixel samples the input bilinearly at its inverse-rotated position, positions outside the image clamped to
/// the edge, every channel alike, rounded half to even.</summary>
public static class ImageRotation
{
    /// <summary>The image turned by <paramref name="degrees"/> counter-clockwise as it appears on screen (y down).</summary>
    public static Image Rotate(Image image, double degrees)
    {
        ImageRows.Check(image, "rotate");
        if (!double.IsFinite(degrees)) throw new TesseraException($"rotate: the angle must be finite, got {degrees}");
        int w = image.Width, h = image.Height, c = image.Channels;
        double a = degrees * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a), cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        var src = image.Pixels;
        var dst = new byte[src.Length];
        ImageRows.For(h, 16, (s, e) =>
        {
            for (int v = s; v < e; v++)
                for (int u = 0; u < w; u++)
                {
                    // Output q = R(a) p, so p = R(-a) q: x = qx cos - qy sin, y = qx sin + qy cos (y down).
                    double qx = u - cx, qy = v - cy;
                    double x = Math.Clamp(qx * cos - qy * sin + cx, 0, w - 1), y = Math.Clamp(qx * sin + qy * cos + cy, 0, h - 1);
                    int x0 = (int)x, y0 = (int)y, x1 = Math.Min(x0 + 1, w - 1), y1 = Math.Min(y0 + 1, h - 1);
                    double ax = x - x0, ay = y - y0;
                    int p00 = (y0 * w + x0) * c, p01 = (y0 * w + x1) * c, p10 = (y1 * w + x0) * c, p11 = (y1 * w + x1) * c, o = (v * w + u) * c;
                    for (int ch = 0; ch < c; ch++)
                    {
                        double top = src[p00 + ch] + (src[p01 + ch] - src[p00 + ch]) * ax;
                        double bottom = src[p10 + ch] + (src[p11 + ch] - src[p10 + ch]) * ax;
                        dst[o + ch] = (byte)Math.Round(top + (bottom - top) * ay);
                    }
                }
        });
        return image with { Pixels = dst };
    }
}
