namespace Tessera.Models.Ocr.Layout;

/// <summary>A page's skew from its detected lines: the median slope of the boxes' long edges. A page scanned a few
/// degrees off is read in its straightened frame (<see cref="OcrOptions.Deskew"/>): DB finds its lines again on the
/// image turned back, and XY-Cut orders them by their straight boxes, while the lines are cropped from, and reported
/// in, the image as given.</summary>
internal static class PageSkew
{
    /// <summary>Skews below this many degrees are left alone: a box's corners are whole pixels, and a line of 400
    /// pixels is only 2 pixels lower at its end at 0.3 degrees.</summary>
    public const double MinDegrees = 0.3;

    /// <summary>Skews above this many degrees are not taken for a scan's: a page turned further (a photo, a rotated
    /// layout) is read as it is.</summary>
    public const double MaxDegrees = 15;

    /// <summary>Only boxes at least this many times as long as they are thick say which way their line runs (a word
    /// or a digit alone does not).</summary>
    public const double MinAspect = 3;

    /// <summary>The page's skew in degrees (positive: lines run down to the right, y down), or null when it is under
    /// <see cref="MinDegrees"/>, over <see cref="MaxDegrees"/>, or fewer than 3 boxes are long enough to tell.</summary>
    public static double? Degrees(IReadOnlyList<DetectedBox> boxes)
    {
        var angles = new List<double>();
        foreach (var b in boxes)
        {
            var p = b.Points;
            // Top-left, top-right, bottom-right, bottom-left: the long edges are the top and the bottom ones.
            var top = p[1] - p[0];
            double thick = (p[3] - p[0]).Length;
            if (top.Length < MinAspect * Math.Max(thick, 1)) continue;
            angles.Add(Math.Atan2(top.Y, top.X) * 180 / Math.PI);
        }
        if (angles.Count < 3) return null;
        angles.Sort();
        double median = angles.Count % 2 == 1 ? angles[angles.Count / 2] : (angles[angles.Count / 2 - 1] + angles[angles.Count / 2]) / 2;
        return Math.Abs(median) < MinDegrees || Math.Abs(median) > MaxDegrees ? null : median;
    }

    /// <summary>Where a point of the image turned by <see cref="Tessera.Imaging.ImageRotation.Rotate"/> through
    /// <paramref name="degrees"/> lies in the <paramref name="width"/> x <paramref name="height"/> image it was turned
    /// from.</summary>
    public static P ToUnturned(P q, double degrees, int width, int height)
    {
        double a = degrees * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a), cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
        double qx = q.X - cx, qy = q.Y - cy;
        return new P(qx * cos - qy * sin + cx, qx * sin + qy * cos + cy);
    }
}
