using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>The line-level corrections after recognition on synthetic cases: words two overlapping boxes of one row
/// both read (<see cref="RowOverlap"/>) and wide zeros in words of letters (<see cref="GlyphShapes"/>).</summary>
public sealed class OcrGlyphRulesTests
{
    private static OcrPoint[] Quad(int x0, int y0, int x1, int y1) => [new(x0, y0), new(x1, y0), new(x1, y1), new(x0, y1)];

    private static OcrWord W(string text, int x0, int x1, int y = 10) => new(text, 0.9f, new OcrBox(x0, y, x1 - x0, 20));

    private static OcrLine Line(int x0, int x1, params OcrWord[] words) =>
        new(string.Join(' ', words.Select(w => w.Text)), 0.9f, Quad(x0, 10, x1, 30)) { Words = words };

    [Fact]
    public void OverlappingBoxesOfARow_ReadTheSharedLetterOnce()
    {
        // "after schedule" ends at 300; the next box starts at 290 and reads the "e" again as a word of its own.
        var left = Line(0, 300, W("after", 0, 100), W("schedule", 120, 300));
        var right = Line(290, 500, W("e", 290, 300), W("the", 320, 380), W("letter.", 400, 500));
        var cleaned = RowOverlap.RemoveDoubleReads([left, right]);
        Assert.Equal("after schedule", cleaned[0].Text);
        Assert.Equal("the letter.", cleaned[1].Text);
        Assert.Equal(["the", "letter."], cleaned[1].Words.Select(w => w.Text));
        Assert.Equal(right.Box, cleaned[1].Box);
    }

    [Fact]
    public void BoxesThatDoNotOverlap_OrSitOnOtherRows_KeepTheirWords()
    {
        var left = Line(0, 300, W("after", 0, 100), W("schedule", 120, 300));
        // Touching, not overlapping.
        var next = Line(300, 500, W("e", 302, 312), W("the", 320, 380));
        Assert.Equal("e the", RowOverlap.RemoveDoubleReads([left, next])[1].Text);
        // Overlapping columns one row lower.
        var below = new OcrLine("e the", 0.9f, Quad(290, 40, 500, 60)) { Words = [W("e", 290, 300, 40), W("the", 320, 380, 40)] };
        Assert.Equal("e the", RowOverlap.RemoveDoubleReads([left, below])[1].Text);
        // Overlapping boxes whose left line's last word stops short of the right line's first word: not read twice.
        var shortLeft = Line(0, 300, W("after", 0, 100), W("sched", 120, 250));
        Assert.Equal("e the", RowOverlap.RemoveDoubleReads([shortLeft, Line(290, 500, W("e", 290, 300), W("the", 320, 380))])[1].Text);
    }

    [Fact]
    public void ARightLineWhollyInsideTheLeftOne_IsLeftEmpty()
    {
        var left = Line(0, 300, W("after", 0, 100), W("schedule", 120, 300));
        var dup = Line(280, 310, W("le", 282, 298));
        var cleaned = RowOverlap.RemoveDoubleReads([left, dup]);
        Assert.Equal("", cleaned[1].Text);
        Assert.Empty(cleaned[1].Words);
    }

    // Characters with ink widths, one word per run between breaks.
    private static string Fix(string text, float[] widths, params int[] wordStarts)
    {
        var chars = text.Select(c => c.ToString()).ToArray();
        var left = new float[chars.Length];
        var right = new float[chars.Length];
        float x = 0;
        for (int i = 0; i < chars.Length; i++) { left[i] = x; right[i] = x + widths[i]; x += widths[i] + 2; }
        var breaks = new bool[chars.Length];
        foreach (int s in wordStarts) breaks[s] = true;
        return string.Concat(GlyphShapes.Fix(chars, left, right, breaks));
    }

    [Fact]
    public void WideZero_InAWordOfLetters_IsCapitalO()
    {
        // "RK13 80G" with digits 10 wide: the "0" 14 wide (an O's proportion) in a word with a letter.
        Assert.Equal("RK138OG", Fix("RK1380G", [12, 12, 6, 10, 10, 14, 13], 4));
        // The same zero as wide as the digits stays a zero.
        Assert.Equal("RK1380G", Fix("RK1380G", [12, 12, 6, 10, 10, 10, 13], 4));
    }

    [Fact]
    public void WideZero_InAWordOfDigits_OrWithoutReferenceDigits_IsLeftAsRead()
    {
        // "2306": a number, however wide its zero.
        Assert.Equal("2306", Fix("2306", [10, 10, 14, 10]));
        // "A0B": no digits 2 to 9 on the line to measure against.
        Assert.Equal("A0B", Fix("A0B", [12, 14, 12]));
    }
}
