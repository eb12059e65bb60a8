using Tessera.Imaging;
using static Tessera.Models.Tests.Imaging.ImagingReference;

namespace Tessera.Models.Tests.Imaging;

/// <summary>The median filter against sorting each window (replicated borders), on both of its paths: the vectorised
/// comparator network and Huang's sliding histogram.</summary>
public sealed class MedianFilterTests
{
    private static int[] Naive(Image img, int k)
    {
        int r = k / 2, w = img.Width, h = img.Height, c = img.Channels;
        var outPx = new int[w * h * c];
        var win = new int[k * k];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++)
                {
                    int n = 0;
                    for (int dy = -r; dy <= r; dy++)
                        for (int dx = -r; dx <= r; dx++) win[n++] = At(img, Replicate(x + dx, w), Replicate(y + dy, h), ch);
                    Array.Sort(win);
                    outPx[(y * w + x) * c + ch] = win[k * k / 2];
                }
        return outPx;
    }

    [Theory]
    [InlineData(37, 23, 3, 3)]
    [InlineData(37, 23, 3, 5)]
    [InlineData(29, 31, 1, 7)]
    [InlineData(71, 9, 4, 3)]
    [InlineData(13, 11, 3, 9)]
    [InlineData(23, 5, 1, 11)]
    [InlineData(13, 9, 3, 5)]   // 39 bytes a row: 256-bit vectors only
    [InlineData(45, 8, 1, 7)]
    [InlineData(3, 4, 3, 5)]    // narrower than a vector: the histogram path
    [InlineData(1, 1, 1, 3)]
    [InlineData(7, 6, 3, 1)]
    public void MatchesSortedWindows_OnBothPaths(int w, int h, int c, int k)
    {
        var img = Random(w, h, c, seed: w * 31 + k);
        var expected = Naive(img, k);
        var filter = new MedianFilter(k);
        AssertClose(expected, filter.Apply(img, network: true), 0, 0, $"median {k} network");
        AssertClose(expected, filter.Apply(img, network: false), 0, 0, $"median {k} histogram");
        AssertClose(expected, filter.Apply(img), 0, 0, $"median {k}");
    }

    [Fact]
    public void ConstantImage_IsUnchanged()
    {
        var img = new Image(Enumerable.Repeat((byte)77, 41 * 17 * 3).ToArray(), 41, 17, 3);
        foreach (var k in new[] { 3, 5, 7, 9 }) Assert.Equal(img.Pixels, new MedianFilter(k).Apply(img).Pixels);
    }

    [Fact]
    public void RemovesSaltAndPepper_FromAFlatImage()
    {
        // Isolated noise pixels (no two within two pixels of each other) on a flat gray: a 3x3 median sees at most
        // one of them in any window, so the whole image comes back flat.
        int w = 53, h = 47;
        var px = Enumerable.Repeat((byte)128, w * h).ToArray();
        var rng = new Random(5);
        int noisy = 0;
        for (int y = 1; y < h; y += 3)
            for (int x = 1 + rng.Next(2); x < w; x += 3 + rng.Next(2))
                if (rng.Next(2) == 0) { px[y * w + x] = rng.Next(2) == 0 ? (byte)0 : (byte)255; noisy++; }
        Assert.True(noisy > 50);
        var got = new MedianFilter(3).Apply(new Image(px, w, h, 1));
        Assert.All(got.Pixels, v => Assert.Equal(128, v));
    }
}
