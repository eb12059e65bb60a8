using Tessera.Models.Ocr;
using Tessera.Models.Ocr.Layout;

namespace Tessera.Models.Tests;

/// <summary>XY-Cut reading order on synthetic layouts whose order is known: boxes of 20-pixel lines.</summary>
public sealed class LayoutTests
{
    private static OcrBox L(int x, int y, int w) => new(x, y, w, 20);

    private static string Order(IReadOnlyList<OcrBox> boxes, string[] names) =>
        string.Join(" | ", XyCut.Blocks(boxes).Select(b => string.Join(" ", b.Select(i => names[i]))));

    [Fact]
    public void TwoColumns_UnderATitle_ReadColumnByColumn()
    {
        // Given in top-to-bottom order, as the detector sorts them: the columns' lines interleave.
        OcrBox[] boxes = [L(40, 10, 500), L(20, 60, 240), L(300, 60, 240), L(20, 90, 230), L(300, 90, 235), L(20, 120, 200), L(300, 120, 100)];
        string[] names = ["T", "a1", "b1", "a2", "b2", "a3", "b3"];
        Assert.Equal("T | a1 a2 a3 | b1 b2 b3", Order(boxes, names));
    }

    [Fact]
    public void Sidebar_IsReadBeforeTheMainText_AndAFooterLast()
    {
        OcrBox[] boxes = [L(20, 20, 100), L(200, 20, 380), L(20, 50, 90), L(200, 50, 380), L(200, 80, 300), L(20, 200, 560)];
        string[] names = ["s1", "m1", "s2", "m2", "m3", "F"];
        Assert.Equal("s1 s2 | m1 m2 m3 | F", Order(boxes, names));
    }

    [Fact]
    public void RightAlignedTitle_StaysWithItsRow()
    {
        // The title sits 6 pixels higher than the label on its left: a top-to-bottom sort would read it first.
        OcrBox[] boxes = [L(400, 14, 180), L(20, 20, 120), L(20, 60, 560), L(20, 90, 540)];
        string[] names = ["Title", "Label", "p1", "p2"];
        Assert.Equal("Label | Title | p1 p2", Order(boxes, names));
    }

    [Fact]
    public void OneLineInSeveralBoxes_IsNotSplit()
    {
        // Word gaps narrower than a line height keep one row in one block, left to right.
        OcrBox[] boxes = [L(130, 21, 100), L(20, 20, 100), L(240, 19, 80), L(20, 50, 300)];
        Assert.Equal("b a c d", Order(boxes, ["a", "b", "c", "d"]).Replace(" |", ""));
        Assert.Single(XyCut.Blocks(boxes));
    }

    [Fact]
    public void ParagraphGap_StartsANewBlock()
    {
        OcrBox[] boxes = [L(20, 20, 300), L(20, 48, 280), L(20, 110, 300), L(20, 138, 200)];
        Assert.Equal("p1 p2 | q1 q2", Order(boxes, ["p1", "p2", "q1", "q2"]));
    }

    [Fact]
    public void Modes_GiveTheirBlocks()
    {
        OcrLine Line(string t, int x, int y, int w) => new(t, 1, [new(x, y), new(x + w, y), new(x + w, y + 20), new(x, y + 20)]);
        OcrLine[] lines = [Line("r", 400, 10, 100), Line("l", 20, 12, 100), Line("n", 20, 60, 480)];
        Assert.Equal(["l", "r", "n"], PageLayout.Arrange(lines, LayoutMode.Auto).SelectMany(b => b.Lines).Select(l => l.Text));
        Assert.Equal(3, PageLayout.Arrange(lines, LayoutMode.Sparse).Count);
        Assert.Single(PageLayout.Arrange(lines, LayoutMode.SingleBlock));
        Assert.Empty(PageLayout.Arrange([], LayoutMode.Auto));
        Assert.Empty(XyCut.Blocks([]));
    }
}
