using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>Layout with the real PP-OCRv4 detector and recogniser: a two-column page ImageMagick renders, read in
/// order, and pages with nothing to read.</summary>
public sealed class LayoutEndToEndTests(ITestOutputHelper log)
{
    private static OcrResult Read(Image img, OcrOptions options)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var pipeline = OcrPipeline.Load(Path.GetDirectoryName(ModelFiles.Rec)!, cpu, options);
        return pipeline.Run(img);
    }

    [SkippableFact]
    public void TwoColumnPage_IsReadTitleColumnsFooter()
    {
        Skip.IfNot(RenderedText.Available, "ImageMagick's convert is not installed (apt-get install imagemagick)");
        var page = RenderedText.Page(900, 480, 20,
            (200, 50, "Quarterly notes of the working group"),
            (40, 130, "The left column starts"), (480, 130, "The right column starts"),
            (40, 165, "with a second line"), (480, 165, "and has its own lines"),
            (40, 200, "and ends here"), (480, 200, "that end below"),
            (200, 420, "Page 1 of 2, printed for the group"));
        var r = Read(page, new OcrOptions());
        foreach (var b in r.Blocks) log.WriteLine($"block {b.Bounds}: {string.Join(" / ", b.Lines.Select(l => l.Text))}");
        string[] expected =
        [
            "Quarterly notes of the working group",
            "The left column starts", "with a second line", "and ends here",
            "The right column starts", "and has its own lines", "that end below",
            "Page 1 of 2, printed for the group",
        ];
        static string NoSpaces(string s) => s.Replace(" ", "");
        Assert.Equal(expected.Select(NoSpaces), r.Lines.Select(l => NoSpaces(l.Text)));
        Assert.Equal([1, 3, 3, 1], r.Blocks.Select(b => b.Lines.Count));
        Assert.Equal(r.Lines, r.Blocks.SelectMany(b => b.Lines));
        // Words carry boxes inside their line's bounds.
        Assert.All(r.Lines, l => Assert.All(l.Words, w =>
            Assert.True(w.Box.X >= l.Bounds.X - 1 && w.Box.Right <= l.Bounds.Right + 1, $"{w} outside {l.Bounds}")));
        int spacedRight = r.Lines.Zip(expected).Count(p => p.First.Text == p.Second);
        log.WriteLine($"{spacedRight} of {expected.Length} lines exact with spaces");
        Assert.True(spacedRight >= expected.Length - 1, $"{spacedRight} of {expected.Length} lines spaced right");
    }

    [SkippableTheory]
    [InlineData(3.0)]
    [InlineData(-2.0)]
    public void PageTurnedAFewDegrees_IsDeskewed_AndReadAsTheUprightOne(double degrees)
    {
        Skip.IfNot(RenderedText.Available, "ImageMagick's convert is not installed (apt-get install imagemagick)");
        // Two columns and a footer: without deskewing, the turned lines' bounds overlap their neighbours' rows and the
        // columns' gutter closes up, so the reading order falls apart.
        var upright = RenderedText.Page(1000, 620, 20,
            (60, 40, "Minutes of the annual meeting"),
            (60, 120, "The treasurer opened the meeting"), (540, 120, "The second column begins here"),
            (60, 155, "and read the accounts aloud"), (540, 155, "with the plans for next year"),
            (60, 190, "before the vote was taken"), (540, 190, "and the budget that follows"),
            (60, 225, "by a show of hands"), (540, 225, "from the new members"),
            (60, 540, "Signed by the secretary on the first of May"));
        // Turned counter-clockwise on screen by `degrees`, so its lines slope by -degrees.
        var turned = ImageRotation.Rotate(upright, -degrees);
        var straight = Read(upright, new OcrOptions());
        var r = Read(turned, new OcrOptions());
        var plain = Read(turned, new OcrOptions { Deskew = false });
        string Text(OcrResult x) => string.Join(" ", x.Lines.Select(l => l.Text));
        log.WriteLine($"upright: {Text(straight)}\nturned {degrees}: skew {r.SkewDegrees:F2}: {Text(r)}\nwithout deskew: {Text(plain)}");
        Assert.InRange(r.SkewDegrees, degrees - 0.5, degrees + 0.5);
        Assert.Equal(0, straight.SkewDegrees);
        double cer = RenderedText.CharErrorRate(Text(straight), Text(r));
        Assert.True(cer < 0.02, $"CER {cer:F4} against the upright page");
        // The boxes are in the turned image: each line's box slopes with it.
        Assert.All(r.Lines.Where(l => l.Bounds.Width > 300), l =>
            Assert.InRange(Math.Atan2(l.Box[1].Y - l.Box[0].Y, l.Box[1].X - l.Box[0].X) * 180 / Math.PI, degrees - 1, degrees + 1));
    }

    [Fact]
    public void BlankPage_HasNoLinesAndNoBlocks()
    {
        var blank = new Image(Enumerable.Repeat((byte)255, 320 * 200 * 3).ToArray(), 320, 200);
        var r = Read(blank, new OcrOptions());
        Assert.Empty(r.Lines);
        Assert.Empty(r.Blocks);
        Assert.Equal((320, 200), (r.PageWidth, r.PageHeight));
    }

    [Fact]
    public void OnePixelImage_HasNoLines()
    {
        var r = Read(new Image([0, 0, 0], 1, 1), new OcrOptions());
        Assert.Empty(r.Lines);
        Assert.Empty(r.Blocks);
    }
}
