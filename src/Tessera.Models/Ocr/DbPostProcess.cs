namespace Tessera.Models.Ocr;

/// <summary>A detected text box in the original image's pixels: 4 corners, top-left first then clockwise (as
/// PaddleOCR's filter_tag_det_res leaves them), and DB's box score.</summary>
internal sealed record DetectedBox(P[] Points, float Score);

/// <summary>PaddleOCR's DBPostProcess (ppocr/postprocess/db_postprocess.py, score_mode "fast", no dilation) followed by
/// predict_det's filter_tag_det_res: the probability map is binarised, each region's minimum-area rectangle is
/// scored by the mean probability it covers, grown by the unclip ratio, scaled to the original image and clipped.</summary>
internal static class DbPostProcess
{
    private const int MinSize = 3;

    /// <summary>The boxes of a probability map <paramref name="prob"/> [mapHeight, mapWidth] for an original image of
    /// srcWidth x srcHeight, in no particular order (see <see cref="OcrGeometry.ReadingOrder"/>).</summary>
    public static List<DetectedBox> Boxes(ReadOnlySpan<float> prob, int mapWidth, int mapHeight, int srcWidth, int srcHeight, OcrOptions o)
    {
        if (prob.Length != (long)mapWidth * mapHeight)
            throw new TesseraException($"DB post-processing: a {mapWidth}x{mapHeight} map needs {(long)mapWidth * mapHeight} values, got {prob.Length}");
        var bitmap = new bool[prob.Length];
        for (int i = 0; i < prob.Length; i++) bitmap[i] = prob[i] > o.DetThresh;
        var result = new List<DetectedBox>();
        foreach (var region in BitmapRegions.Find(bitmap, mapWidth, mapHeight, o.DetMaxCandidates))
        {
            var (points, side) = OcrGeometry.MiniBox(region);
            if (side < MinSize) continue;
            float score = BoxScoreFast(prob, mapWidth, mapHeight, points);
            if (o.DetBoxThresh > score) continue;
            var (box, side2) = OcrGeometry.MiniBox(OcrGeometry.UnclipRect(points, o.DetUnclipRatio));
            if (side2 < MinSize + 2) continue;
            // Scale to the original image, rounding half to even (numpy's round) and clipping to [0, size], then
            // truncating to int32 as PaddleOCR does.
            var scaled = new P[4];
            for (int i = 0; i < 4; i++)
                scaled[i] = new P(
                    (int)Math.Clamp(Math.Round(box[i].X / mapWidth * srcWidth), 0, srcWidth),
                    (int)Math.Clamp(Math.Round(box[i].Y / mapHeight * srcHeight), 0, srcHeight));
            // filter_tag_det_res: order, clip to the last pixel, drop boxes 3 pixels thin or less.
            var ordered = OcrGeometry.OrderClockwise(scaled);
            for (int i = 0; i < 4; i++)
                ordered[i] = new P(Math.Clamp(ordered[i].X, 0, srcWidth - 1), Math.Clamp(ordered[i].Y, 0, srcHeight - 1));
            int w = (int)(ordered[0] - ordered[1]).Length, h = (int)(ordered[0] - ordered[3]).Length;
            if (w <= 3 || h <= 3) continue;
            result.Add(new DetectedBox(ordered, score));
        }
        return result;
    }

    /// <summary>box_score_fast: the mean probability over the box's axis-aligned bounding rectangle (floor/ceil,
    /// clipped to the map), counting only pixels inside or on the box polygon, whose corners are first made
    /// relative to that rectangle and truncated to integers as cv2.fillPoly receives them.</summary>
    public static float BoxScoreFast(ReadOnlySpan<float> prob, int width, int height, IReadOnlyList<P> box)
    {
        double x0 = double.MaxValue, x1 = double.MinValue, y0 = double.MaxValue, y1 = double.MinValue;
        foreach (var p in box)
        {
            x0 = Math.Min(x0, p.X); x1 = Math.Max(x1, p.X);
            y0 = Math.Min(y0, p.Y); y1 = Math.Max(y1, p.Y);
        }
        int xmin = Math.Clamp((int)Math.Floor(x0), 0, width - 1), xmax = Math.Clamp((int)Math.Ceiling(x1), 0, width - 1);
        int ymin = Math.Clamp((int)Math.Floor(y0), 0, height - 1), ymax = Math.Clamp((int)Math.Ceiling(y1), 0, height - 1);
        var poly = new P[box.Count];
        for (int i = 0; i < box.Count; i++) poly[i] = new P((int)(box[i].X - xmin), (int)(box[i].Y - ymin));
        double sum = 0;
        long n = 0;
        for (int y = ymin; y <= ymax; y++)
            for (int x = xmin; x <= xmax; x++)
                if (InsideOrOn(poly, new P(x - xmin, y - ymin)))
                {
                    sum += prob[y * width + x];
                    n++;
                }
        return n == 0 ? 0f : (float)(sum / n);
    }

    // Whether q lies inside the polygon or on its boundary (cv2.fillPoly paints the outline too): on an edge, or an
    // odd number of edge crossings to its right.
    private static bool InsideOrOn(P[] poly, P q)
    {
        bool inside = false;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            P a = poly[j], b = poly[i];
            var ab = b - a;
            var aq = q - a;
            if (Math.Abs(ab.Cross(aq)) < 1e-9 && aq.Dot(ab) >= 0 && aq.Dot(ab) <= ab.Dot(ab)) return true;
            if ((a.Y > q.Y) != (b.Y > q.Y) && q.X < a.X + (q.Y - a.Y) * ab.X / ab.Y) inside = !inside;
        }
        return inside;
    }
}
