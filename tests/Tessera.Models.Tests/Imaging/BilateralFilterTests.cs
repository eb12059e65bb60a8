using Tessera.Imaging;
using static Tessera.Models.Tests.Imaging.ImagingReference;

namespace Tessera.Models.Tests.Imaging;

/// <summary>The bilateral filter against OpenCV's definition evaluated directly in double: a disc of radius d / 2,
/// spatial weight exp(-(i^2 + j^2) / 2 sigmaS^2), colour weight exp(-D^2 / 2 sigmaC^2) with D the sum over channels of
/// |difference|, reflect-101 borders.</summary>
public sealed class BilateralFilterTests
{
    private static int[] Naive(Image img, int d, double sc, double ss)
    {
        int r = d > 0 ? d / 2 : (int)Math.Round(ss * 1.5);
        r = Math.Max(r, 1);
        int w = img.Width, h = img.Height, c = img.Channels;
        var outPx = new int[w * h * c];
        var sum = new double[c];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                Array.Clear(sum);
                double wsum = 0;
                for (int i = -r; i <= r; i++)
                    for (int j = -r; j <= r; j++)
                    {
                        if (Math.Sqrt(i * i + j * j) > r) continue;
                        int sx = Reflect101(x + j, w), sy = Reflect101(y + i, h);
                        double dist = 0;
                        for (int ch = 0; ch < c; ch++) dist += Math.Abs(At(img, sx, sy, ch) - At(img, x, y, ch));
                        double wt = Math.Exp(-(i * i + j * j) / (2 * ss * ss)) * Math.Exp(-dist * dist / (2 * sc * sc));
                        wsum += wt;
                        for (int ch = 0; ch < c; ch++) sum[ch] += wt * At(img, sx, sy, ch);
                    }
                for (int ch = 0; ch < c; ch++) outPx[(y * w + x) * c + ch] = Round(sum[ch] / wsum);
            }
        return outPx;
    }

    [Theory]
    [InlineData(37, 23, 3, 9, 75, 75)]
    [InlineData(29, 13, 1, 5, 30, 10)]
    [InlineData(21, 11, 3, 7, 20, 3)]
    [InlineData(13, 7, 3, 5, 50, 4)]     // narrower than 16: the 256-bit path
    [InlineData(19, 8, 4, 5, 50, 4)]     // four channels: the general vector path
    [InlineData(5, 9, 3, 9, 75, 75)]     // narrower than a vector: the scalar path
    [InlineData(11, 6, 1, 0, 40, 2)]     // d <= 0: radius round(1.5 sigmaSpace)
    public void MatchesTheDirectDefinition(int w, int h, int c, int d, double sc, double ss)
    {
        var img = Smooth(w, h, c, seed: w * h);
        var expected = Naive(img, d, sc, ss);
        AssertClose(expected, new BilateralFilter(d, sc, ss).Apply(img), 1, 0.005, $"bilateral {d}/{sc}/{ss}");
        var noise = Random(w, h, c, seed: 3);
        AssertClose(Naive(noise, d, sc, ss), new BilateralFilter(d, sc, ss).Apply(noise), 1, 0.005, $"bilateral {d}/{sc}/{ss} on noise");
    }

    [Fact]
    public void ConstantImage_IsUnchanged()
    {
        var img = new Image(Enumerable.Repeat((byte)13, 33 * 9 * 3).ToArray(), 33, 9, 3);
        Assert.Equal(img.Pixels, new BilateralFilter().Apply(img).Pixels);
    }

    [Fact]
    public void KeepsAStrongEdge_WhereAGaussianBlursIt()
    {
        // A step of 200 levels with sigmaColor 20: weights across the edge are exp(-200^2 / 800), nothing.
        int w = 40, h = 10;
        var px = new byte[w * h];
        for (int i = 0; i < px.Length; i++) px[i] = i % w < 20 ? (byte)20 : (byte)220;
        var img = new Image(px, w, h, 1);
        Assert.Equal(px, new BilateralFilter(9, 20, 5).Apply(img).Pixels);
        Assert.NotEqual(px, new GaussianBlur(2).Apply(img).Pixels);
    }
}
