using Tessera.Imaging;

namespace Tessera.Models.Tests.Imaging;

/// <summary>Deskew recovers a known rotation of a rendered text page. The page and its rotation are made here,
/// apart from src/: lines of <see cref="TestText"/> stacked on a page, turned by bilinear sampling with paper fill.</summary>
public sealed class DeskewTests
{
    private static readonly string[] Lines = ["HELLO 2024", "THE 0123 LATE", "9 ALE 77", "TOTAL 4567 80", "HOLE 31 AT 5", "LOT 8 THE 6"];

    /// <summary>A 3-channel page of text lines with generous margins.</summary>
    internal static Image Page(int scale = 3)
    {
        var rendered = Lines.Select(l => TestText.Render(l, scale)).ToArray();
        int w = rendered.Max(r => r.Width) + 160, lineH = rendered[0].Height + 6 * scale, h = lineH * Lines.Length + 160;
        var px = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) { px[3 * i] = 235; px[3 * i + 1] = 235; px[3 * i + 2] = 225; }
        for (int k = 0; k < rendered.Length; k++)
        {
            var r = rendered[k];
            for (int y = 0; y < r.Height; y++)
                Array.Copy(r.Pixels, y * r.Width * 3, px, ((80 + k * lineH + y) * w + 80) * 3, r.Width * 3);
        }
        return new Image(px, w, h, 3);
    }

    /// <summary>The image turned <paramref name="degrees"/> counter-clockwise on screen about its centre: output
    /// (u, v) samples the input at the point the inverse turn takes it to; outside the page takes the top-left pixel's colour (paper).</summary>
    internal static Image Rotate(Image img, double degrees)
    {
        double a = degrees * Math.PI / 180, cx = (img.Width - 1) / 2.0, cy = (img.Height - 1) / 2.0;
        int w = img.Width, h = img.Height, c = img.Channels;
        var px = new byte[img.Pixels.Length];
        byte Sample(int x, int y, int ch) => x < 0 || y < 0 || x >= w || y >= h ? img.Pixels[ch] : img.Pixels[(y * w + x) * c + ch];
        for (int v = 0; v < h; v++)
            for (int u = 0; u < w; u++)
            {
                // A point p turned by a counter-clockwise on screen (y down) goes to (x cos a + y sin a, -x sin a + y cos a).
                double du = u - cx, dv = v - cy;
                double sx = du * Math.Cos(a) - dv * Math.Sin(a) + cx, sy = du * Math.Sin(a) + dv * Math.Cos(a) + cy;
                int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                double fx = sx - x0, fy = sy - y0;
                for (int ch = 0; ch < c; ch++)
                {
                    double val = Sample(x0, y0, ch) * (1 - fx) * (1 - fy) + Sample(x0 + 1, y0, ch) * fx * (1 - fy)
                        + Sample(x0, y0 + 1, ch) * (1 - fx) * fy + Sample(x0 + 1, y0 + 1, ch) * fx * fy;
                    px[(v * w + u) * c + ch] = (byte)Math.Round(val);
                }
            }
        return img with { Pixels = px };
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(4.2)]
    [InlineData(-7.5)]
    [InlineData(11.3)]
    [InlineData(-1.35)]
    public void RecoversAKnownRotation(double degrees)
    {
        var skewed = Rotate(Page(), degrees);
        var result = new Deskew(15).Run(skewed);
        Assert.True(Math.Abs(result.AngleDegrees - degrees) < 0.3, $"turned {degrees}, found {result.AngleDegrees}");
        Assert.Equal((skewed.Width, skewed.Height, skewed.Channels), (result.Image.Width, result.Image.Height, result.Image.Channels));
        // The straightened page has no skew left.
        Assert.True(Math.Abs(new Deskew(15).FindAngle(result.Image)) < 0.3, "straightened page still skewed");
    }

    [Fact]
    public void LightInkOnDarkPaper_IsFoundToo()
    {
        var page = Page();
        var inverted = page with { Pixels = page.Pixels.Select(b => (byte)(255 - b)).ToArray() };
        double found = new Deskew(10).FindAngle(Rotate(inverted, 3.0));
        Assert.True(Math.Abs(found - 3.0) < 0.3, $"found {found}");
    }

    [Fact]
    public void BlankPage_HasNoSkew()
    {
        var blank = new Image(Enumerable.Repeat((byte)240, 50 * 40 * 3).ToArray(), 50, 40, 3);
        var r = new Deskew().Run(blank);
        Assert.Equal(0, r.AngleDegrees);
        Assert.Equal(blank.Pixels, r.Image.Pixels);
    }

    [Fact]
    public void Rotation_MatchesTheTestsOwnAwayFromBorders()
    {
        // Library rotation vs the test's: the same bilinear sampling, so equal to rounding where no border is touched.
        var img = ImagingReference.Smooth(61, 47, 3, seed: 4);
        var mine = Rotate(img, 9.0);
        var lib = ImageRotation.Rotate(img, 9.0);
        for (int v = 12; v < 35; v++)
            for (int u = 12; u < 49; u++)
                for (int ch = 0; ch < 3; ch++)
                    Assert.True(Math.Abs(mine.Pixels[(v * 61 + u) * 3 + ch] - lib.Pixels[(v * 61 + u) * 3 + ch]) <= 1, $"({u}, {v})");
    }
}
