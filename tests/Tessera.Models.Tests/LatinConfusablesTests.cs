using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>Look-alike letters and digits put right by the word they stand in, and crops grown along their line.</summary>
public sealed class LatinConfusablesTests
{
    [Theory]
    [InlineData("2o17.", "2017.")]
    [InlineData("l995", "1995")]
    [InlineData("1O,5OO", "10,500")]
    [InlineData("0ak", "Oak")]
    [InlineData("C0MPANY", "COMPANY")]
    [InlineData("g00d", "good")]
    [InlineData("(0pen)", "(Open)")]
    public void LookAlikes_TakeTheirWordsScript(string read, string expected) => Assert.Equal(expected, LatinConfusables.Fix(read));

    [Theory]
    [InlineData("80G")]       // a postcode's digit then letters: either reading is a word
    [InlineData("10am")]
    [InlineData("2nd")]
    [InlineData("lo")]
    [InlineData("0")]
    [InlineData("o1")]
    [InlineData("Oak")]
    [InlineData("2017")]
    [InlineData("日0本")]
    public void AmbiguousWords_StayAsRead(string read) => Assert.Equal(read, LatinConfusables.Fix(read));

    [Fact]
    public void PadAlongLine_GrowsTheLongSides_InsideTheImage()
    {
        // A horizontal box 100 x 20 grows 4 pixels at each end; at the image's edge it stops there.
        P[] box = [new(50, 10), new(150, 10), new(150, 30), new(50, 30)];
        var grown = OcrImageOps.PadAlongLine(box, 0.2, 400, 100);
        Assert.Equal([new P(46, 10), new P(154, 10), new P(154, 30), new P(46, 30)], grown);
        var atEdge = OcrImageOps.PadAlongLine([new(1, 10), new(101, 10), new(101, 30), new(1, 30)], 0.2, 103, 100);
        Assert.Equal([new P(0, 10), new P(102, 10), new P(102, 30), new P(0, 30)], atEdge);
        // A vertical box grows along its height.
        var tall = OcrImageOps.PadAlongLine([new(10, 50), new(30, 50), new(30, 150), new(10, 150)], 0.5, 400, 400);
        Assert.Equal([new P(10, 40), new P(30, 40), new P(30, 160), new P(10, 160)], tall);
        // Limited at each end (a neighbour on the row 2 pixels to the left), never grown past the fraction.
        var limited = OcrImageOps.PadAlongLine(box, 0.2, 400, 100, maxBefore: 2, maxAfter: 50);
        Assert.Equal([new P(48, 10), new P(154, 10), new P(154, 30), new P(48, 30)], limited);
    }
}
