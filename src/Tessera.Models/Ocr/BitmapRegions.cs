namespace Tessera.Models.Ocr;

/// <summary>The outer boundaries of the 8-connected regions of a binary bitmap, as DB post-processing needs them.
/// PaddleOCR calls cv2.findContours and then only ever uses a contour through cv2.minAreaRect, which depends on the
/// contour's convex hull alone; the convex hull of a region's outer border is that of the region, and it is already
/// fixed by the leftmost and rightmost pixel of each of the region's rows. So each region is returned as those
/// points, top row first, left end before right end: the same hull as OpenCV's contour, at a fraction of the cost
/// of tracing it. (OpenCV's RETR_LIST also lists the borders of holes; a hole lies in low probability, so DB's box
/// score drops it, and it is not proposed here.)</summary>
internal static class BitmapRegions
{
    /// <summary>The regions of pixels set in <paramref name="bitmap"/> (row-major, width <paramref name="width"/>), in
    /// the raster order of their first pixel, at most <paramref name="maxRegions"/>. Pixel (x, y) is the point (x, y).</summary>
    public static List<P[]> Find(ReadOnlySpan<bool> bitmap, int width, int height, int maxRegions = int.MaxValue)
    {
        if (width <= 0 || height <= 0 || bitmap.Length != (long)width * height)
            throw new TesseraException($"bitmap regions: a {width}x{height} bitmap needs {(long)width * height} pixels, got {bitmap.Length}");
        var label = new int[bitmap.Length]; // 0 = unvisited
        var regions = new List<P[]>();
        var stack = new Stack<int>();
        // Per region: the extreme columns of each row it touches, reset between regions through the touched list.
        var minX = new int[height];
        var maxX = new int[height];
        Array.Fill(minX, int.MaxValue);
        Array.Fill(maxX, -1);
        var rows = new List<int>();
        for (int start = 0; start < bitmap.Length && regions.Count < maxRegions; start++)
        {
            if (!bitmap[start] || label[start] != 0) continue;
            int id = regions.Count + 1;
            label[start] = id;
            stack.Push(start);
            rows.Clear();
            while (stack.Count > 0)
            {
                int at = stack.Pop();
                int x = at % width, y = at / width;
                if (maxX[y] < 0) rows.Add(y);
                if (x < minX[y]) minX[y] = x;
                if (x > maxX[y]) maxX[y] = x;
                for (int dy = -1; dy <= 1; dy++)
                {
                    int ny = y + dy;
                    if ((uint)ny >= (uint)height) continue;
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx;
                        if ((uint)nx >= (uint)width) continue;
                        int n = ny * width + nx;
                        if (bitmap[n] && label[n] == 0)
                        {
                            label[n] = id;
                            stack.Push(n);
                        }
                    }
                }
            }
            rows.Sort();
            var pts = new List<P>(rows.Count * 2);
            foreach (int y in rows)
            {
                pts.Add(new P(minX[y], y));
                if (maxX[y] != minX[y]) pts.Add(new P(maxX[y], y));
                minX[y] = int.MaxValue;
                maxX[y] = -1;
            }
            regions.Add([.. pts]);
        }
        return regions;
    }
}
