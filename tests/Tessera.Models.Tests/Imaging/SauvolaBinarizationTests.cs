using Tessera.Imaging;
using static Tessera.Models.Tests.Imaging.ImagingReference;

namespace Tessera.Models.Tests.Imaging;

/// <summary>Sauvola's threshold against direct window loops (mean and population standard deviation in double over
/// the window clipped to the image), and in closed form on a two-level step.</summary>
public sealed class SauvolaBinarizationTests
{
    [Theory]
    [InlineData(37, 23, 7, 0.2, 128)]
    [InlineData(41, 29, 25, 0.2, 128)]   // a window larger than the image's height
    [InlineData(13, 9, 3, 0.5, 100)]
    [InlineData(1, 17, 5, 0.34, 128)]
    public void MatchesDirectWindowStatistics(int w, int h, int window, double k, double R)
    {
        foreach (var img in new[] { Smooth(w, h, 1, seed: w), Random(w, h, 1, seed: h) })
        {
            var got = new SauvolaBinarization(window, k, R).Apply(img);
            int r = window / 2;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double s = 0, s2 = 0;
                    int n = 0;
                    for (int yy = Math.Max(0, y - r); yy <= Math.Min(h - 1, y + r); yy++)
                        for (int xx = Math.Max(0, x - r); xx <= Math.Min(w - 1, x + r); xx++) { double v = At(img, xx, yy, 0); s += v; n++; }
                    double m = s / n;
                    for (int yy = Math.Max(0, y - r); yy <= Math.Min(h - 1, y + r); yy++)
                        for (int xx = Math.Max(0, x - r); xx <= Math.Min(w - 1, x + r); xx++) { double d = At(img, xx, yy, 0) - m; s2 += d * d; }
                    double t = m * (1 + k * (Math.Sqrt(s2 / n) / R - 1));
                    int px = At(img, x, y, 0);
                    if (Math.Abs(px - t) < 1e-9) continue; // on the threshold: either side is right
                    Assert.True((px > t ? 255 : 0) == got.Pixels[y * w + x], $"({x}, {y}): value {px}, threshold {t}, got {got.Pixels[y * w + x]}");
                }
        }
    }

    [Fact]
    public void TwoLevelStep_HasItsClosedForm()
    {
        // Columns < 20 are 50, the rest 200; window 15 (r = 7). The step is vertical, so every window, clipped or
        // not, has the same share p of light columns as its row: with nd dark and nl light columns in the window,
        // m = 50 + 150 p and s = 150 sqrt(p (1 - p)). Far from the step s = 0 and T = 0.8 m < m: all paper.
        int w = 41, h = 19;
        var px = new byte[w * h];
        for (int i = 0; i < px.Length; i++) px[i] = i % w < 20 ? (byte)50 : (byte)200;
        var got = new SauvolaBinarization(15, 0.2, 128).Apply(new Image(px, w, h, 1));
        for (int x = 0; x < w; x++)
        {
            int x0 = Math.Max(0, x - 7), x1 = Math.Min(w - 1, x + 7);
            int nl = Math.Max(0, x1 - Math.Max(x0, 20) + 1), n = x1 - x0 + 1;
            double p = (double)nl / n, m = 50 + 150 * p, s = 150 * Math.Sqrt(p * (1 - p));
            double t = m * (1 + 0.2 * (s / 128 - 1));
            int want = (x < 20 ? 50 : 200) > t ? 255 : 0;
            for (int y = 0; y < h; y++) Assert.Equal(want, got.Pixels[y * w + x]);
        }
        // The dark side next to the step is ink, the light side and the flat far field are paper.
        Assert.Equal(0, got.Pixels[19]);
        Assert.Equal(255, got.Pixels[20]);
        Assert.Equal(255, got.Pixels[0]);
    }

    [Fact]
    public void ConstantImage_IsAllPaper()
    {
        var img = new Image(Enumerable.Repeat((byte)90, 17 * 13).ToArray(), 17, 13, 1);
        Assert.All(new SauvolaBinarization().Apply(img).Pixels, v => Assert.Equal(255, v));
    }
}
