using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>DB post-processing on synthetic probability maps, against boxes computed by hand.</summary>
public sealed class OcrPostProcessTests
{
    private static readonly OcrOptions Defaults = new();

    private static float[] Map(int w, int h) => new float[w * h];

    private static void Fill(float[] map, int w, int x0, int y0, int x1, int y1, float p)
    {
        for (int y = y0; y <= y1; y++) for (int x = x0; x <= x1; x++) map[y * w + x] = p;
    }

    private static void AssertBox(DetectedBox b, params (double X, double Y)[] expected)
    {
        for (int i = 0; i < 4; i++)
            Assert.True(b.Points[i].X == expected[i].X && b.Points[i].Y == expected[i].Y,
                $"corner {i}: expected {expected[i]}, got {b.Points[i]} (box {string.Join(" ", b.Points)})");
    }

    [Fact]
    public void Rectangle_IsScoredUnclippedAndRounded()
    {
        // Pixels x 10..39, y 8..15: hull 29 x 7, unclip d = 29 * 7 * 1.5 / 72 = 4.229: (5.77, 3.77) - (43.23, 19.23).
        var m = Map(64, 32);
        Fill(m, 64, 10, 8, 39, 15, 0.9f);
        var boxes = DbPostProcess.Boxes(m, 64, 32, 64, 32, Defaults);
        var b = Assert.Single(boxes);
        Assert.Equal(0.9f, b.Score, 5);
        AssertBox(b, (6, 4), (43, 4), (43, 19), (6, 19));
    }

    [Fact]
    public void Boxes_AreScaledToTheSourceImage_AndClipped()
    {
        // As above at twice the size: (11.54, 7.54) - (86.46, 38.46) rounds to (12, 8) - (86, 38).
        var m = Map(64, 32);
        Fill(m, 64, 10, 8, 39, 15, 0.9f);
        AssertBox(Assert.Single(DbPostProcess.Boxes(m, 64, 32, 128, 64, Defaults)), (12, 8), (86, 8), (86, 38), (12, 38));
        // A region at the map's corner grows past the edge and is clipped to the last pixel.
        var c = Map(64, 32);
        Fill(c, 64, 0, 0, 19, 5, 0.95f);
        AssertBox(Assert.Single(DbPostProcess.Boxes(c, 64, 32, 64, 32, Defaults)), (0, 0), (22, 0), (22, 8), (0, 8));
    }

    [Fact]
    public void LowScoreAndThinRegions_AreDropped()
    {
        var m = Map(64, 32);
        Fill(m, 64, 2, 2, 30, 10, 0.5f);   // above thresh 0.3, below box_thresh 0.6
        Fill(m, 64, 2, 20, 60, 21, 0.99f); // 2 pixels tall: short side 1 < 3
        Assert.Empty(DbPostProcess.Boxes(m, 64, 32, 64, 32, Defaults));
        Assert.Single(DbPostProcess.Boxes(m, 64, 32, 64, 32, Defaults with { DetBoxThresh = 0.4f }));
    }

    [Fact]
    public void SeparatedRegions_GiveSeparateBoxes_DiagonalTouchMerges()
    {
        var m = Map(80, 32);
        Fill(m, 80, 5, 8, 30, 15, 0.9f);
        Fill(m, 80, 32, 8, 60, 15, 0.9f); // one empty column between: two regions
        var boxes = OcrGeometry.ReadingOrder(DbPostProcess.Boxes(m, 80, 32, 80, 32, Defaults), b => b.Points[0]);
        Assert.Equal(2, boxes.Count);
        Assert.True(boxes[0].Points[0].X < boxes[1].Points[0].X);

        var d = Map(80, 32);
        Fill(d, 80, 5, 5, 30, 12, 0.9f);
        Fill(d, 80, 31, 13, 60, 20, 0.9f); // touching at a corner only: one 8-connected region
        Assert.Single(DbPostProcess.Boxes(d, 80, 32, 80, 32, Defaults with { DetBoxThresh = 0.3f }));
    }

    [Fact]
    public void RotatedRectangle_GivesARotatedBoxOfTheSameAngle()
    {
        // A 60 x 12 bar turned 20 degrees about (64, 48), rasterised on pixel centres.
        int w = 128, h = 96;
        var m = Map(w, h);
        double a = 20 * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double dx = x - 64, dy = y - 48;
                double u = dx * cos + dy * sin, v = -dx * sin + dy * cos;
                if (Math.Abs(u) <= 30 && Math.Abs(v) <= 6) m[y * w + x] = 0.9f;
            }
        var b = Assert.Single(DbPostProcess.Boxes(m, w, h, w, h, Defaults));
        var p = b.Points;
        double angle = Math.Atan2(p[1].Y - p[0].Y, p[1].X - p[0].X) * 180 / Math.PI;
        Assert.InRange(angle, 17, 23);
        double cx = p.Average(q => q.X), cy = p.Average(q => q.Y);
        Assert.InRange(cx, 63, 65);
        Assert.InRange(cy, 47, 49);
        // The bar (about 60 x 12) grown by d = 60 * 12 * 1.5 / 144 = 7.5 on each side: about 75 x 27.
        double len = (p[1] - p[0]).Length, tall = (p[3] - p[0]).Length;
        Assert.InRange(len, 72, 78);
        Assert.InRange(tall, 24, 30);
    }

    [Fact]
    public void MaxCandidates_LimitsTheRegionsConsidered()
    {
        var m = Map(64, 64);
        for (int k = 0; k < 4; k++) Fill(m, 64, 4, 4 + 15 * k, 50, 10 + 15 * k, 0.9f);
        Assert.Equal(4, DbPostProcess.Boxes(m, 64, 64, 64, 64, Defaults).Count);
        Assert.Equal(2, DbPostProcess.Boxes(m, 64, 64, 64, 64, Defaults with { DetMaxCandidates = 2 }).Count);
    }
}
