using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>The box geometry of the OCR pipeline against hand-computed values.</summary>
public sealed class OcrGeometryTests
{
    private static void Near(P expected, P actual, double tol = 1e-6)
    {
        Assert.True(Math.Abs(expected.X - actual.X) <= tol && Math.Abs(expected.Y - actual.Y) <= tol, $"expected {expected}, got {actual}");
    }

    [Fact]
    public void MinAreaRect_OfAxisAlignedPixels_IsTheirBoundingBox()
    {
        var pts = new List<P>();
        for (int y = 5; y <= 8; y++) for (int x = 10; x <= 19; x++) pts.Add(new P(x, y));
        var (box, side) = OcrGeometry.MiniBox(pts);
        Assert.Equal(3, side, 9);
        Near(new P(10, 5), box[0]); Near(new P(19, 5), box[1]); Near(new P(19, 8), box[2]); Near(new P(10, 8), box[3]);
    }

    [Fact]
    public void MinAreaRect_OfRotatedRectangle_FindsItsCorners()
    {
        // A 5 x 10 rectangle along u = (0.8, 0.6), v = (-0.6, 0.8) from (10, 10), with points inside it.
        P[] corners = [new(10, 10), new(14, 13), new(8, 21), new(4, 18)];
        var pts = new List<P>(corners);
        for (double a = 0.5; a < 5; a += 1) for (double b = 0.5; b < 10; b += 1.5)
            pts.Add(new P(10 + 0.8 * a - 0.6 * b, 10 + 0.6 * a + 0.8 * b));
        var (_, w, h) = OcrGeometry.MinAreaRect(pts);
        Assert.Equal(50, w * h, 6);
        Assert.Equal(5, Math.Min(w, h), 6);
        // get_mini_boxes order: leftmost two by x, the upper first; then the rightmost two, the upper first.
        var (box, side) = OcrGeometry.MiniBox(pts);
        Assert.Equal(5, side, 6);
        Near(new P(4, 18), box[0]); Near(new P(10, 10), box[1]); Near(new P(14, 13), box[2]); Near(new P(8, 21), box[3]);
        // order_points_clockwise: least x + y first, then clockwise on screen.
        var cw = OcrGeometry.OrderClockwise(box);
        Near(new P(10, 10), cw[0]); Near(new P(14, 13), cw[1]); Near(new P(8, 21), cw[2]); Near(new P(4, 18), cw[3]);
    }

    [Fact]
    public void ConvexHull_DropsInteriorAndCollinearPoints()
    {
        P[] pts = [new(0, 0), new(2, 0), new(4, 0), new(4, 4), new(0, 4), new(2, 2), new(0, 2)];
        var hull = OcrGeometry.ConvexHull(pts);
        Assert.Equal(4, hull.Length);
        Assert.Equal(16, OcrGeometry.Area(hull), 9);
    }

    [Fact]
    public void Unclip_GrowsEachSideByAreaTimesRatioOverPerimeter()
    {
        P[] rect = [new(0, 0), new(10, 0), new(10, 4), new(0, 4)];
        double d = 40 * 1.5 / 28; // area 40, perimeter 28
        var grown = OcrGeometry.UnclipRect(rect, 1.5);
        Near(new P(-d, -d), grown[0]); Near(new P(10 + d, -d), grown[1]); Near(new P(10 + d, 4 + d), grown[2]); Near(new P(-d, 4 + d), grown[3]);
    }

    [Fact]
    public void Unclip_OfRotatedRectangle_GrowsAlongItsOwnAxes()
    {
        P[] rect = [new(10, 10), new(14, 13), new(8, 21), new(4, 18)]; // 5 x 10, see above
        double d = 50 * 2.0 / 30;
        var grown = OcrGeometry.UnclipRect(rect, 2.0);
        var (_, w, h) = OcrGeometry.MinAreaRect(grown);
        Assert.Equal(5 + 2 * d, Math.Min(w, h), 6);
        Assert.Equal(10 + 2 * d, Math.Max(w, h), 6);
        // (10, 10) moves by -d along u = (0.8, 0.6) and -d along v = (-0.6, 0.8).
        Near(new P(10 - d * 0.8 + d * 0.6, 10 - d * 0.6 - d * 0.8), grown[0]);
    }

    [Fact]
    public void ReadingOrder_IsTopToBottom_ThenLeftToRightWithinTenPixels()
    {
        P[] tops = [new(100, 50), new(10, 55), new(300, 0), new(5, 80), new(200, 52)];
        var order = OcrGeometry.ReadingOrder(tops, p => p);
        Assert.Equal([new(300, 0), new(10, 55), new(100, 50), new(200, 52), new(5, 80)], order);
    }

    [Fact]
    public void Homography_MapsCornersToCorners()
    {
        P[] from = [new(0, 0), new(20, 0), new(20, 10), new(0, 10)];
        P[] to = [new(3, 4), new(25, 6), new(22, 18), new(1, 15)];
        var m = OcrImageOps.Homography(from, to);
        for (int i = 0; i < 4; i++)
        {
            double den = m[6] * from[i].X + m[7] * from[i].Y + m[8];
            Near(to[i], new P((m[0] * from[i].X + m[1] * from[i].Y + m[2]) / den, (m[3] * from[i].X + m[4] * from[i].Y + m[5]) / den), 1e-9);
        }
    }
}
