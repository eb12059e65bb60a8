using Tessera.Imaging;
using static Tessera.Models.Tests.Imaging.ImagingReference;

namespace Tessera.Models.Tests.Imaging;

/// <summary>The Gaussian blur against the 2-D convolution with the outer product of the kernel, in double, with
/// reflect-101 borders; OpenCV's kernel size rule; and the blur of an impulse, which is the kernel itself.</summary>
public sealed class GaussianBlurTests
{
    private static double[] Kernel(int n, double sigma)
    {
        var g = Enumerable.Range(0, n).Select(i => Math.Exp(-(i - (n - 1) / 2.0) * (i - (n - 1) / 2.0) / (2 * sigma * sigma))).ToArray();
        double s = g.Sum();
        return g.Select(v => v / s).ToArray();
    }

    private static int[] Naive(Image img, double[] k)
    {
        int r = k.Length / 2, w = img.Width, h = img.Height, c = img.Channels;
        var outPx = new int[w * h * c];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++)
                {
                    double s = 0;
                    for (int i = -r; i <= r; i++)
                        for (int j = -r; j <= r; j++)
                            s += k[i + r] * k[j + r] * At(img, Reflect101(x + j, w), Reflect101(y + i, h), ch);
                    outPx[(y * w + x) * c + ch] = Round(s);
                }
        return outPx;
    }

    [Theory]
    [InlineData(0.5, 0, 5)]
    [InlineData(1.0, 0, 7)]
    [InlineData(1.2, 0, 9)]
    [InlineData(2.0, 0, 13)]
    [InlineData(0.0, 5, 5)]
    [InlineData(3.0, 3, 3)]
    public void KernelSize_FollowsOpenCvsRule(double sigma, int size, int expected)
    {
        var k = new GaussianBlur(sigma, size).Kernel();
        Assert.Equal(expected, k.Length);
        double s = sigma > 0 ? sigma : 0.3 * ((expected - 1) * 0.5 - 1) + 0.8;
        var want = Kernel(expected, s);
        for (int i = 0; i < k.Length; i++) Assert.Equal(want[i], k[i], 6);
    }

    [Theory]
    [InlineData(37, 23, 3, 1.2, 0)]
    [InlineData(19, 29, 1, 2.0, 0)]
    [InlineData(11, 7, 4, 0.8, 0)]
    [InlineData(5, 3, 3, 1.5, 0)]   // a kernel wider than the image: borders reflect more than once
    [InlineData(1, 9, 1, 1.0, 0)]
    [InlineData(43, 17, 3, 0, 7)]
    public void MatchesTheDirect2DConvolution(int w, int h, int c, double sigma, int size)
    {
        var img = Random(w, h, c, seed: w + h);
        var blur = new GaussianBlur(sigma, size);
        int n = blur.Kernel().Length;
        var expected = Naive(img, Kernel(n, sigma > 0 ? sigma : 0.3 * ((n - 1) * 0.5 - 1) + 0.8));
        // Float sums against double: a tie at .5 may round either way.
        AssertClose(expected, blur.Apply(img), 1, 0.002, $"gaussian {sigma}/{size}");
    }

    [Fact]
    public void Impulse_GivesTheKernel()
    {
        int w = 31, h = 25;
        var px = new byte[w * h];
        px[12 * w + 15] = 255;
        var got = new GaussianBlur(1.5).Apply(new Image(px, w, h, 1));
        var k = Kernel(11, 1.5); // round(6 * 1.5 + 1) | 1 = 11 taps
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int dy = y - 12, dx = x - 15;
                double want = Math.Abs(dy) <= 5 && Math.Abs(dx) <= 5 ? 255 * k[dy + 5] * k[dx + 5] : 0;
                Assert.True(Math.Abs(got.Pixels[y * w + x] - want) <= 0.5 + 1e-4, $"({x}, {y}): {got.Pixels[y * w + x]} vs {want}");
            }
    }

    [Fact]
    public void ConstantImage_IsUnchanged()
    {
        var img = new Image(Enumerable.Repeat((byte)200, 23 * 19 * 3).ToArray(), 23, 19, 3);
        Assert.Equal(img.Pixels, new GaussianBlur(2.5).Apply(img).Pixels);
    }
}
