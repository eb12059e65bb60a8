using Tessera.Imaging;
using static Tessera.Models.Tests.Imaging.ImagingReference;

namespace Tessera.Models.Tests.Imaging;

/// <summary>Gray conversion against 0.299 R + 0.587 G + 0.114 B rounded (OpenCV's fixed point is within one level),
/// in both channel orders, and expansion back to colour.</summary>
public sealed class GrayscaleTests
{
    [Theory]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(4, false)]
    public void MatchesTheLumaFormula(int c, bool bgr)
    {
        var img = Random(57, 31, c, seed: c, bgr);
        var expected = new int[57 * 31];
        for (int i = 0; i < expected.Length; i++)
        {
            int r = img.Pixels[i * c + (bgr ? 2 : 0)], g = img.Pixels[i * c + 1], b = img.Pixels[i * c + (bgr ? 0 : 2)];
            expected[i] = Round(0.299 * r + 0.587 * g + 0.114 * b);
        }
        var gray = Grayscale.ToGray(img);
        Assert.Equal(1, gray.Channels);
        AssertClose(expected, gray, 1, 0.05, "gray");
    }

    [Fact]
    public void PureColours_AndExpansion()
    {
        var img = new Image([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255], 4, 1, 3);
        Assert.Equal(new byte[] { 76, 150, 29, 255 }, Grayscale.ToGray(img).Pixels);
        var back = Grayscale.Expand(Grayscale.ToGray(img), 3);
        Assert.Equal(new byte[] { 76, 76, 76, 150, 150, 150, 29, 29, 29, 255, 255, 255 }, back.Pixels);
    }
}
