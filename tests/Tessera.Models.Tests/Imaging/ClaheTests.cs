using Tessera.Imaging;
using static Tessera.Models.Tests.Imaging.ImagingReference;

namespace Tessera.Models.Tests.Imaging;

/// <summary>CLAHE against OpenCV's algorithm written out plainly: extend the image (reflect-101) to a multiple of the
/// grid, clip and redistribute each tile's histogram, map by its scaled cumulative sum, blend the four nearest tiles'
/// mappings bilinearly by the distance to their centres.</summary>
public sealed class ClaheTests
{
    // Returns the rounded result and, per pixel, whether it sits on a rounding tie (of its value or of a mapping it
    // blends), where OpenCV's float arithmetic may round either way.
    private static (int[] Values, bool[] Tie) Naive(Image gray, double clipLimit, int gx, int gy)
    {
        int w = gray.Width, h = gray.Height;
        bool exact = w % gx == 0 && h % gy == 0;
        int ew = exact ? w : w + gx - w % gx, eh = exact ? h : h + gy - h % gy;
        int tw = ew / gx, th = eh / gy, area = tw * th;
        int limit = clipLimit > 0 ? Math.Max((int)(clipLimit * area / 256), 1) : 0;
        var lut = new double[gy, gx, 256];
        var lutTie = new bool[gy, gx, 256];
        for (int ty = 0; ty < gy; ty++)
            for (int tx = 0; tx < gx; tx++)
            {
                var hist = new int[256];
                for (int y = ty * th; y < (ty + 1) * th; y++)
                    for (int x = tx * tw; x < (tx + 1) * tw; x++) hist[At(gray, Reflect101(x, w), Reflect101(y, h), 0)]++;
                if (limit > 0)
                {
                    int excess = hist.Sum(v => Math.Max(v - limit, 0));
                    for (int i = 0; i < 256; i++) hist[i] = Math.Min(hist[i], limit) + excess / 256;
                    int rest = excess % 256;
                    if (rest > 0)
                        for (int i = 0, step = Math.Max(256 / rest, 1); i < 256 && rest > 0; i += step, rest--) hist[i]++;
                }
                int cum = 0;
                for (int i = 0; i < 256; i++)
                {
                    cum += hist[i];
                    lut[ty, tx, i] = Round(cum * 255.0 / area);
                    lutTie[ty, tx, i] = NearTie(cum * 255.0 / area);
                }
            }
        var outPx = new int[w * h];
        var tie = new bool[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                // OpenCV's tile coordinate: x / tileWidth - 0.5 (the tile centres at whole numbers).
                double fx = x / (double)tw - 0.5, fy = y / (double)th - 0.5;
                int x1 = (int)Math.Floor(fx), y1 = (int)Math.Floor(fy);
                double ax = fx - x1, ay = fy - y1;
                int x2 = Math.Min(x1 + 1, gx - 1), y2 = Math.Min(y1 + 1, gy - 1);
                x1 = Math.Max(x1, 0); y1 = Math.Max(y1, 0);
                int v = At(gray, x, y, 0);
                double top = lut[y1, x1, v] * (1 - ax) + lut[y1, x2, v] * ax, bottom = lut[y2, x1, v] * (1 - ax) + lut[y2, x2, v] * ax;
                outPx[y * w + x] = Round(top * (1 - ay) + bottom * ay);
                tie[y * w + x] = NearTie(top * (1 - ay) + bottom * ay) || lutTie[y1, x1, v] || lutTie[y1, x2, v] || lutTie[y2, x1, v] || lutTie[y2, x2, v];
            }
        return (outPx, tie);
    }

    private static bool NearTie(double v) => Math.Abs(v - Math.Floor(v) - 0.5) < 1e-3;

    private static void AssertMatches(Image gray, double clip, int gx, int gy)
    {
        var (want, tie) = Naive(gray, clip, gx, gy);
        var got = new Clahe(clip, gx, gy).Apply(gray);
        for (int i = 0; i < want.Length; i++)
            if (got.Pixels[i] != want[i] && !(tie[i] && Math.Abs(got.Pixels[i] - want[i]) == 1))
                Assert.Fail($"clahe {clip} {gx}x{gy} at x {i % gray.Width}, y {i / gray.Width}: expected {want[i]}, got {got.Pixels[i]}");
    }

    [Theory]
    [InlineData(67, 45, 2.0, 8, 8)]
    [InlineData(64, 48, 2.0, 8, 8)]   // an exact multiple of the grid: no extension
    [InlineData(64, 45, 3.0, 8, 8)]   // one side a multiple: both are still extended, as OpenCV does
    [InlineData(53, 37, 40.0, 4, 3)]
    [InlineData(31, 29, 0.0, 2, 5)]
    [InlineData(9, 7, 1.0, 3, 2)]
    public void MatchesOpenCvsAlgorithm(int w, int h, double clip, int gx, int gy)
    {
        AssertMatches(Smooth(w, h, 1, seed: w + 7 * h), clip, gx, gy);
        AssertMatches(Random(w, h, 1, seed: w), clip, gx, gy);
    }

    [Fact]
    public void ColourInput_IsEqualisedAsGray()
    {
        var rgb = Smooth(40, 30, 3, seed: 2);
        var gray = Grayscale.ToGray(rgb);
        Assert.Equal(new Clahe(2, 4, 4).Apply(gray).Pixels, new Clahe(2, 4, 4).Apply(rgb).Pixels);
    }

    [Fact]
    public void UniformImage_MapsToItsClosedForm()
    {
        // 64x48 in 8x8 tiles: 8x6 = 48 pixels a tile, all of value 100.
        var img = new Image(Enumerable.Repeat((byte)100, 64 * 48).ToArray(), 64, 48, 1);
        // No clipping: each tile's cumulative histogram reaches the whole tile at 100, so everything maps to 255.
        Assert.All(new Clahe(0, 8, 8).Apply(img).Pixels, v => Assert.Equal(255, v));
        // Clip limit 2: floor(2 * 48 / 256) = 0, so the limit is 1; the other 47 counts go one a bin from bin 0 at a
        // step of 256 / 47 = 5 (bins 0, 5, ..., 230). At 100 the cumulative count is 1 (the clipped bin) plus the
        // 21 bins 0..100, 22 in all: 22 * 255 / 48 = 116.875, so 117.
        Assert.All(new Clahe(2, 8, 8).Apply(img).Pixels, v => Assert.Equal(117, v));
    }
}
