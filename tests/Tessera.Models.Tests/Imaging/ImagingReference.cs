using Tessera.Imaging;
namespace Tessera.Models.Tests.Imaging;

/// <summary>What the imaging tests share, written apart from src/: random images, pixel access, the border rules
/// (as OpenCV's borderInterpolate defines them, by their periodic formulas) and image comparison.</summary>
internal static class ImagingReference
{
    public static Image Random(int w, int h, int c, int seed, bool bgr = false)
    {
        var rng = new Random(seed);
        var px = new byte[w * h * c];
        rng.NextBytes(px);
        return new Image(px, w, h, c, bgr);
    }

    /// <summary>A smooth random image (a few random blobs plus a little noise): realistic input for filters whose
    /// behaviour depends on local contrast.</summary>
    public static Image Smooth(int w, int h, int c, int seed)
    {
        var rng = new Random(seed);
        var px = new byte[w * h * c];
        var blobs = Enumerable.Range(0, 6).Select(_ => (X: rng.NextDouble() * w, Y: rng.NextDouble() * h, R: 3 + rng.NextDouble() * w / 3, V: rng.Next(-120, 120))).ToArray();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++)
                {
                    double v = 120 + rng.Next(-10, 11);
                    foreach (var b in blobs) v += b.V * (ch + 1) / c * Math.Exp(-((x - b.X) * (x - b.X) + (y - b.Y) * (y - b.Y)) / (b.R * b.R));
                    px[(y * w + x) * c + ch] = (byte)Math.Clamp(v, 0, 255);
                }
        return new Image(px, w, h, c);
    }

    public static int At(Image img, int x, int y, int ch) => img.Pixels[(y * img.Width + x) * img.Channels + ch];

    /// <summary>BORDER_REFLECT_101 by its period 2n - 2: ...gfedcb|abcdefgh|gfedcba...</summary>
    public static int Reflect101(int i, int n)
    {
        if (n == 1) return 0;
        int period = 2 * n - 2;
        i = ((i % period) + period) % period;
        return i < n ? i : period - i;
    }

    /// <summary>BORDER_REPLICATE.</summary>
    public static int Replicate(int i, int n) => i < 0 ? 0 : i >= n ? n - 1 : i;

    /// <summary>Asserts every byte is within <paramref name="tol"/> of the reference and at most
    /// <paramref name="maxOffFraction"/> of them differ at all; reports the first mismatch.</summary>
    public static void AssertClose(int[] expected, Image got, int tol, double maxOffFraction, string what)
    {
        Assert.Equal(expected.Length, got.Pixels.Length);
        int off = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - got.Pixels[i]);
            if (d > tol)
            {
                int p = i / got.Channels;
                Assert.Fail($"{what}: at x {p % got.Width}, y {p / got.Width}, channel {i % got.Channels}: expected {expected[i]}, got {got.Pixels[i]}");
            }
            if (d != 0) off++;
        }
        Assert.True(off <= maxOffFraction * expected.Length, $"{what}: {off} of {expected.Length} bytes differ by one (allowed {maxOffFraction:P2})");
    }

    /// <summary>Round half to even, as OpenCV's cvRound.</summary>
    public static int Round(double v) => (int)Math.Clamp(Math.Round(v, MidpointRounding.ToEven), 0, 255);
}
