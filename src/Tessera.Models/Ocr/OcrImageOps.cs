using Tessera.Imaging;
namespace Tessera.Models.Ocr;

/// <summary>The image operations of PaddleOCR's system pipeline on 8-bit images: the detector's input
/// (DetResizeForTest + NormalizeImage + ToCHWImage), perspective crops of detected boxes (get_rotate_crop_image),
/// turning crops, and the direction classifier's batch (predict_cls.resize_norm_img). Images are kept as packed
/// 3-channel B, G, R bytes, the order cv2.imread gives PaddleOCR.</summary>
internal static class OcrImageOps
{
    // ImageNet mean and standard deviation, applied by PaddleOCR's det config to the B, G, R channels in that order.
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    /// <summary>The image as packed B, G, R bytes (a copy unless it already is).</summary>
    public static Image ToBgr(Image img)
    {
        img.Validate();
        if (img.Channels == 3 && img.Bgr) return img;
        var px = new byte[img.Width * img.Height * 3];
        for (int y = 0; y < img.Height; y++)
            for (int x = 0; x < img.Width; x++)
                for (int c = 0; c < 3; c++)
                    px[(y * img.Width + x) * 3 + c] = img.Bgr8(x, y, c);
        return new Image(px, img.Width, img.Height, 3, Bgr: true);
    }

    /// <summary>DetResizeForTest (resize_image_type0) sizes: scale so the longer side is at most (limit type "max")
    /// or the shorter side at least ("min") the limit, truncate, then round each side to a multiple of 32 (half to
    /// even, as Python's round), at least 32.</summary>
    public static (int Width, int Height) DetSize(int width, int height, int limitSideLen, string limitType)
    {
        double ratio = 1;
        if (limitType == "max")
        {
            if (Math.Max(height, width) > limitSideLen) ratio = height > width ? (double)limitSideLen / height : (double)limitSideLen / width;
        }
        else if (Math.Min(height, width) < limitSideLen)
            ratio = height < width ? (double)limitSideLen / height : (double)limitSideLen / width;
        int rh = (int)(height * ratio), rw = (int)(width * ratio);
        return (Math.Max((int)(Math.Round(rw / 32.0) * 32), 32), Math.Max((int)(Math.Round(rh / 32.0) * 32), 32));
    }

    /// <summary>The detector's input [1, 3, H, W]: the B, G, R image resized (cv2.resize, bilinear) to
    /// <see cref="DetSize"/>, scaled to [0, 1], minus the mean and over the standard deviation per channel, CHW.</summary>
    public static Tensor DetInput(IBackend backend, Image bgr, OcrOptions o, out int width, out int height)
    {
        (width, height) = DetSize(bgr.Width, bgr.Height, o.DetLimitSideLen, o.DetLimitType);
        var resized = PpOcrPreprocess.ResizeBilinear(bgr, width, height);
        int plane = width * height;
        var data = new float[3 * plane];
        for (int c = 0; c < 3; c++)
        {
            float scale = 1f / 255f / Std[c], shift = Mean[c] / Std[c];
            var dst = data.AsSpan(c * plane, plane);
            for (int i = 0; i < plane; i++) dst[i] = resized[i * 3 + c] * scale - shift;
        }
        return Tensor.FromArray(backend, data, 1, 3, height, width);
    }

    /// <summary>get_rotate_crop_image: the quadrilateral <paramref name="box"/> (top-left, top-right, bottom-right,
    /// bottom-left) warped by a perspective transform onto a rectangle as wide as its longer horizontal edge and as
    /// tall as its longer vertical edge (truncated), sampling bilinearly with replicated borders (PaddleOCR uses
    /// cv2.INTER_CUBIC; on an axis-aligned box both give the plain crop). A crop at least 1.5 times as tall as wide
    /// is turned 90 degrees counter-clockwise (np.rot90), as vertical text is.</summary>
    public static Image CropQuad(Image bgr, IReadOnlyList<P> box)
    {
        var (w, h) = CropSize(box);
        // The map from the crop's pixel (u, v) to the image: the homography taking the crop's corners to the box's.
        var m = Homography([new P(0, 0), new P(w, 0), new P(w, h), new P(0, h)], box);
        var px = new byte[w * h * 3];
        for (int v = 0; v < h; v++)
            for (int u = 0; u < w; u++)
            {
                double den = m[6] * u + m[7] * v + m[8];
                double sx = (m[0] * u + m[1] * v + m[2]) / den, sy = (m[3] * u + m[4] * v + m[5]) / den;
                SampleBilinear(bgr, sx, sy, px.AsSpan((v * w + u) * 3, 3));
            }
        var crop = new Image(px, w, h, 3, Bgr: true);
        return h >= 1.5 * w ? Rotate90Ccw(crop) : crop;
    }

    /// <summary>The box grown along its reading direction (its longer sides) by <paramref name="fraction"/> of its
    /// thickness at each end, the new corners kept inside the <paramref name="width"/> x <paramref name="height"/>
    /// image. DB's boxes may end right on the last glyph's edge (a final "r", a full stop), which the recogniser then
    /// misreads or drops; the whitespace beyond it is what the recogniser saw in training.</summary>
    public static P[] PadAlongLine(IReadOnlyList<P> box, double fraction, int width, int height) =>
        PadAlongLine(box, fraction, width, height, double.PositiveInfinity, double.PositiveInfinity);

    /// <summary><see cref="PadAlongLine(IReadOnlyList{P}, double, int, int)"/> growing the start of the line by at
    /// most <paramref name="maxBefore"/> pixels and its end by at most <paramref name="maxAfter"/> (so as not to reach
    /// into a neighbouring box of the same row).</summary>
    public static P[] PadAlongLine(IReadOnlyList<P> box, double fraction, int width, int height, double maxBefore, double maxAfter)
    {
        var (w, h) = CropSize(box);
        bool vertical = h >= 1.5 * w;
        double d = fraction * (vertical ? w : h);
        double before = Math.Clamp(maxBefore, 0, d), after = Math.Clamp(maxAfter, 0, d);
        // Each long side, from its start corner to its end corner, grown at both ends.
        var (s0, e0, s1, e1) = vertical ? (0, 3, 1, 2) : (0, 1, 3, 2);
        var r = box.ToArray();
        void Grow(int a, int b)
        {
            var dir = box[b] - box[a];
            double len = dir.Length;
            if (len < 1e-9) return;
            var u = (1 / len) * dir;
            r[a] = Clamp(box[a] - before * u);
            r[b] = Clamp(box[b] + after * u);
        }
        P Clamp(P p) => new(Math.Clamp(p.X, 0, width - 1), Math.Clamp(p.Y, 0, height - 1));
        Grow(s0, e0);
        Grow(s1, e1);
        return r;
    }

    /// <summary>The size of <see cref="CropQuad"/>'s rectangle before any turn.</summary>
    public static (int Width, int Height) CropSize(IReadOnlyList<P> box)
    {
        int w = (int)Math.Max((box[0] - box[1]).Length, (box[2] - box[3]).Length);
        int h = (int)Math.Max((box[0] - box[3]).Length, (box[1] - box[2]).Length);
        return (Math.Max(w, 1), Math.Max(h, 1));
    }

    /// <summary>Whether <see cref="CropQuad"/> turns the crop of <paramref name="box"/> 90 degrees (vertical text).</summary>
    public static bool CropTurns(IReadOnlyList<P> box)
    {
        var (w, h) = CropSize(box);
        return h >= 1.5 * w;
    }

    /// <summary>The page rectangle of the columns <paramref name="left"/> to <paramref name="right"/> of a crop
    /// <paramref name="cropWidth"/> wide, cut from <paramref name="box"/> by <see cref="CropQuad"/> (turned 90 degrees
    /// when <paramref name="turned90"/>, then 180 when <paramref name="turned180"/>): the full height of the line
    /// between those columns, mapped linearly along the box's edges.</summary>
    public static OcrBox CropColumnsToPage(IReadOnlyList<P> box, bool turned90, bool turned180, int cropWidth, float left, float right)
    {
        double u0 = Math.Clamp(left / cropWidth, 0, 1), u1 = Math.Clamp(right / cropWidth, 0, 1);
        if (turned180) (u0, u1) = (1 - u1, 1 - u0);
        // Reading direction: along the top edge, or down the left edge for a turned (vertical) crop.
        var (a0, a1, b0, b1) = turned90 ? (box[0], box[3], box[1], box[2]) : (box[0], box[1], box[3], box[2]);
        P At(P from, P to, double u) => from + u * (to - from);
        P[] corners = [At(a0, a1, u0), At(a0, a1, u1), At(b0, b1, u0), At(b0, b1, u1)];
        return OcrBox.Enclosing(corners.Select(c => new OcrPoint((float)c.X, (float)c.Y)));
    }

    /// <summary>np.rot90: the image turned 90 degrees counter-clockwise.</summary>
    public static Image Rotate90Ccw(Image img)
    {
        int w = img.Width, h = img.Height, c = img.Channels;
        var px = new byte[img.Pixels.Length];
        // Output (x, y) for y < w, x < h is input (w - 1 - y, x).
        for (int y = 0; y < w; y++)
            for (int x = 0; x < h; x++)
                Array.Copy(img.Pixels, (x * w + (w - 1 - y)) * c, px, (y * h + x) * c, c);
        return img with { Pixels = px, Width = h, Height = w };
    }

    /// <summary>cv2.rotate(img, ROTATE_180).</summary>
    public static Image Rotate180(Image img)
    {
        int n = img.Width * img.Height, c = img.Channels;
        var px = new byte[img.Pixels.Length];
        for (int i = 0; i < n; i++) Array.Copy(img.Pixels, i * c, px, (n - 1 - i) * c, c);
        return img with { Pixels = px };
    }

    /// <summary>The direction classifier's batch [N, 3, 48, 192]: each crop resized to height 48 keeping its aspect
    /// ratio (width ceil(48 w / h), at most 192), (x / 255 - 0.5) / 0.5, left-aligned on a zero canvas.</summary>
    public static Tensor ClsBatch(IBackend backend, IReadOnlyList<Image> crops, int height = 48, int width = 192)
    {
        int plane = height * width;
        var data = new float[crops.Count * 3 * plane];
        for (int i = 0; i < crops.Count; i++)
        {
            var img = crops[i];
            int rw = (int)Math.Min(width, Math.Ceiling(height * (double)img.Width / img.Height));
            var resized = PpOcrPreprocess.ResizeBilinear(img, rw, height);
            for (int c = 0; c < 3; c++)
            {
                var dst = data.AsSpan((i * 3 + c) * plane, plane);
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < rw; x++)
                        dst[y * width + x] = (resized[(y * rw + x) * 3 + c] / 255f - 0.5f) / 0.5f;
            }
        }
        return Tensor.FromArray(backend, data, crops.Count, 3, height, width);
    }

    // cv2.warpPerspective's sampling of one output pixel: bilinear, coordinates clamped to the image
    // (BORDER_REPLICATE), rounded to 8 bits.
    private static void SampleBilinear(Image img, double x, double y, Span<byte> dst)
    {
        x = Math.Clamp(x, 0, img.Width - 1);
        y = Math.Clamp(y, 0, img.Height - 1);
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        int x1 = Math.Min(x0 + 1, img.Width - 1), y1 = Math.Min(y0 + 1, img.Height - 1);
        double ax = x - x0, ay = y - y0;
        for (int c = 0; c < 3; c++)
        {
            double top = img.Bgr8(x0, y0, c) * (1 - ax) + img.Bgr8(x1, y0, c) * ax;
            double bottom = img.Bgr8(x0, y1, c) * (1 - ax) + img.Bgr8(x1, y1, c) * ax;
            // Bgr8 reads in B, G, R order, so the crop is B, G, R whatever the source's order.
            dst[c] = (byte)Math.Clamp(Math.Round(top * (1 - ay) + bottom * ay), 0, 255);
        }
    }

    /// <summary>The 3x3 homography (row-major, m[8] = 1) mapping each <paramref name="from"/> point to the
    /// corresponding <paramref name="to"/> point, as cv2.getPerspectiveTransform solves it: an 8x8 linear system,
    /// here by Gaussian elimination with partial pivoting.</summary>
    public static double[] Homography(IReadOnlyList<P> from, IReadOnlyList<P> to)
    {
        var a = new double[8, 9];
        for (int i = 0; i < 4; i++)
        {
            double x = from[i].X, y = from[i].Y, u = to[i].X, v = to[i].Y;
            double[] r1 = [x, y, 1, 0, 0, 0, -x * u, -y * u, u];
            double[] r2 = [0, 0, 0, x, y, 1, -x * v, -y * v, v];
            for (int j = 0; j < 9; j++) { a[2 * i, j] = r1[j]; a[2 * i + 1, j] = r2[j]; }
        }
        for (int col = 0; col < 8; col++)
        {
            int piv = col;
            for (int r = col + 1; r < 8; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[piv, col])) piv = r;
            if (Math.Abs(a[piv, col]) < 1e-12) throw new TesseraException("perspective crop: the box is degenerate (its corners are collinear)");
            for (int j = 0; j < 9; j++) (a[col, j], a[piv, j]) = (a[piv, j], a[col, j]);
            for (int r = 0; r < 8; r++)
            {
                if (r == col) continue;
                double f = a[r, col] / a[col, col];
                for (int j = col; j < 9; j++) a[r, j] -= f * a[col, j];
            }
        }
        var m = new double[9];
        for (int i = 0; i < 8; i++) m[i] = a[i, 8] / a[i, i];
        m[8] = 1;
        return m;
    }
}
