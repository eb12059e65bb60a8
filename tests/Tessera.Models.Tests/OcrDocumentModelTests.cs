using Tessera.Imaging;
using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>The document model's boxes and defaults; and the pipeline filling blocks, words and the page size.</summary>
public sealed class OcrDocumentModelTests(OcrRecFixture f) : IClassFixture<OcrRecFixture>
{
    [Fact]
    public void Enclosing_RoundsOutward()
    {
        var b = OcrBox.Enclosing([new OcrPoint(10.4f, 5.6f), new OcrPoint(30.2f, 5f), new OcrPoint(29f, 20.5f)]);
        Assert.Equal(new OcrBox(10, 5, 21, 16), b);
        Assert.Equal(31, b.Right);
        Assert.Equal(21, b.Bottom);
        Assert.Equal(default, OcrBox.Enclosing([]));
    }

    [Fact]
    public void Union_HoldsEveryBox()
    {
        Assert.Equal(new OcrBox(0, 2, 50, 40), OcrBox.Union([new OcrBox(10, 2, 40, 5), new OcrBox(0, 30, 5, 12)]));
        Assert.Equal(default, OcrBox.Union([]));
    }

    [Fact]
    public void Line_WithoutWords_IsOneWord()
    {
        var l = new OcrLine("ab cd", 0.9f, [new(1, 2), new(11, 2), new(11, 8), new(1, 8)]);
        var w = Assert.Single(l.Words);
        Assert.Equal(new OcrWord("ab cd", 0.9f, new OcrBox(1, 2, 10, 6)), w);
        Assert.Empty((l with { Text = "" }).Words);
    }

    [Fact]
    public void Pipeline_FillsBlocksWordsAndPageSize()
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        using var p = new OcrPipeline(f.Cpu, new OcrOptions(), f.Rec, new InkBandDetector(f.Cpu), ownsModels: false);
        var r = p.Run(img);
        Assert.Equal((img.Width, img.Height), (r.PageWidth, r.PageHeight));
        Assert.Equal(r.Lines, r.Blocks.SelectMany(b => b.Lines));
        Assert.All(r.Blocks, b => Assert.All(b.Lines, l => Assert.True(l.Bounds.X >= b.Bounds.X && l.Bounds.Right <= b.Bounds.Right
            && l.Bounds.Y >= b.Bounds.Y && l.Bounds.Bottom <= b.Bounds.Bottom)));
        Assert.All(r.Lines, l => Assert.NotEmpty(l.Words));
    }
}
