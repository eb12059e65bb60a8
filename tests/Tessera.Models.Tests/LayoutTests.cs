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
        // The sidebar's short lines sit on baselines of their own (smaller type), not on the main text's rows; rows
        // shared across whitespace wider than the sidebar would make a form (RowTable).
        OcrBox[] boxes = [L(20, 26, 100), L(200, 20, 380), L(20, 60, 90), L(200, 50, 380), L(200, 80, 300), L(20, 200, 560)];
        string[] names = ["s1", "m1", "s2", "m2", "m3", "F"];
        Assert.Equal("s1 s2 | m1 m2 m3 | F", Order(boxes, names));
    }

    [Fact]
    public void StackedBlocks_EachToOneSide_ReadTopToBottom()
    {
        // A letter: the sender's block top right, the recipient's lower at the left, the date right, the salutation
        // left, then the body across the page. No line of the left blocks shares rows with one on the right, so the
        // whitespace between them is not a gutter.
        OcrBox[] boxes = [L(400, 10, 180), L(400, 35, 170), L(20, 90, 160), L(20, 115, 150), L(420, 170, 160), L(20, 210, 100), L(20, 250, 560), L(20, 275, 540)];
        string[] names = ["s1", "s2", "r1", "r2", "D", "Dear", "b1", "b2"];
        Assert.Equal("s1 s2 r1 r2 D Dear b1 b2", string.Join(" ", XyCut.Blocks(boxes).SelectMany(b => b).Select(i => names[i])));
    }

    [Fact]
    public void RightAlignedTitle_StaysWithItsRow()
    {
        // The title sits 6 pixels higher than the label on its left: a top-to-bottom sort would read it first. The
        // two share a row across whitespace wider than either, so they are one row of one block (RowTable).
        OcrBox[] boxes = [L(400, 14, 180), L(20, 20, 120), L(20, 60, 560), L(20, 90, 540)];
        string[] names = ["Title", "Label", "p1", "p2"];
        Assert.Equal("Label Title | p1 p2", Order(boxes, names));
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
    public void Form_LabelsAndValues_AreReadRowByRow()
    {
        // Ragged labels on the left, values from x = 300: a plain column cut would read all labels, then all values.
        // The fourth value wraps onto a second line with no label beside it.
        OcrBox[] boxes =
        [
            L(20, 10, 520), L(20, 60, 90), L(300, 60, 200), L(20, 100, 150), L(300, 100, 160), L(20, 140, 60), L(300, 140, 240),
            L(20, 180, 250), L(300, 180, 260), L(300, 205, 120), L(20, 245, 110), L(300, 245, 150),
        ];
        string[] names = ["T", "l1", "v1", "l2", "v2", "l3", "v3", "l4", "v4", "v4b", "l5", "v5"];
        Assert.Equal("T l1 v1 l2 v2 l3 v3 l4 v4 v4b l5 v5", Order(boxes, names).Replace(" |", ""));
    }

    [Fact]
    public void Receipt_ItemsAndRightAlignedPrices_AreReadRowByRow()
    {
        // Items of similar widths and prices right-aligned at x = 500, far narrower than the whitespace between them;
        // the prices' boxes sit a pixel or two off the items' rows, as a detector's do.
        OcrBox[] boxes =
        [
            L(150, 10, 200), L(20, 50, 110), L(440, 51, 60), L(20, 80, 125), L(428, 79, 72), L(20, 110, 100),
            L(440, 111, 60), L(20, 140, 115), L(416, 140, 84), L(20, 190, 70), L(416, 191, 84),
        ];
        string[] names = ["Shop", "i1", "p1", "i2", "p2", "i3", "p3", "i4", "p4", "total", "sum"];
        Assert.Equal("Shop i1 p1 i2 p2 i3 p3 i4 p4 total sum", Order(boxes, names).Replace(" |", ""));
    }

    [Fact]
    public void TwoColumnsOfText_WhoseLinesShareRows_AreStillCut()
    {
        // Running text fills its column and the gutter is narrower than a column: a column cut, even though every
        // line has a partner on the same row across the gutter.
        OcrBox[] boxes =
        [
            L(20, 20, 400), L(460, 20, 400), L(20, 50, 395), L(460, 50, 398), L(20, 80, 380), L(460, 80, 400),
            L(20, 110, 400), L(460, 110, 240), L(20, 140, 220), L(460, 140, 390),
        ];
        string[] names = ["a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "a5", "b5"];
        Assert.Equal("a1 a2 a3 a4 a5 | b1 b2 b3 b4 b5", Order(boxes, names));
    }

    [Fact]
    public void NarrowGutter_BesideRaggedLines_IsAColumnCut_WhenTheRowsDoNotPair()
    {
        // A list of short items beside a paragraph whose lines sit between the items' rows: no row pairing, so the
        // list is read first however ragged it is.
        OcrBox[] boxes = [L(20, 20, 60), L(200, 32, 380), L(20, 50, 120), L(200, 62, 380), L(20, 80, 40), L(200, 92, 300)];
        string[] names = ["s1", "m1", "s2", "m2", "s3", "m3"];
        Assert.Equal("s1 s2 s3 | m1 m2 m3", Order(boxes, names));
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
