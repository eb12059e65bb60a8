using System.Xml;
using System.Xml.Linq;
using Tessera.Models.Ocr;
using Tessera.Models.Ocr.Output;
using static Tessera.Models.Tests.OcrOutput.OcrOutputFixture;

namespace Tessera.Models.Tests.OcrOutput;

/// <summary>The writers on hand-made documents with known blocks, lines and words: the text layout, numbering and
/// coordinates, hostile text (markup, quotes, tabs, control characters), and a page with no text.</summary>
public sealed class OcrOutputWriterTests
{
    private static readonly OcrDocument TwoBlocks = new([new OcrPage("a.png", Page(400, 300,
        [Line(10, 20, ("Title", 10, 80))],
        [Line(60, 20, ("first", 10, 50), ("line", 70, 40)), Line(90, 20, ("second", 10, 60))]))]);

    private static string Write(Action<OcrDocument, TextWriter> writer, OcrDocument doc)
    {
        var sw = new StringWriter();
        writer(doc, sw);
        return sw.ToString();
    }

    [Fact]
    public void Text_PutsALinePerLineABlankLineBetweenBlocksAndAFormFeedBetweenPages()
    {
        Assert.Equal("Title\n\nfirst line\nsecond\n", Write(OcrTextWriter.Write, TwoBlocks).Replace("\r\n", "\n"));
        var two = new OcrDocument([TwoBlocks.Pages[0], TwoBlocks.Pages[0]]);
        Assert.Equal("Title\n\nfirst line\nsecond\n\f\nTitle\n\nfirst line\nsecond\n", Write(OcrTextWriter.Write, two).Replace("\r\n", "\n"));
    }

    [Fact]
    public void Tsv_NumbersBlocksLinesAndWordsAsTesseractDoes()
    {
        var rows = Write(TsvWriter.Write, TwoBlocks).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
        Assert.Equal([
            "1\t1\t0\t0\t0\t0\t0\t0\t400\t300\t-1\t",
            "2\t1\t1\t0\t0\t0\t10\t10\t80\t20\t-1\t",
            "3\t1\t1\t1\t0\t0\t10\t10\t80\t20\t-1\t",
            "4\t1\t1\t1\t1\t0\t10\t10\t80\t20\t-1\t",
            "5\t1\t1\t1\t1\t1\t10\t10\t80\t20\t90.000000\tTitle",
            "2\t1\t2\t0\t0\t0\t10\t60\t100\t50\t-1\t",
            "3\t1\t2\t1\t0\t0\t10\t60\t100\t50\t-1\t",
            "4\t1\t2\t1\t1\t0\t10\t60\t100\t20\t-1\t",
            "5\t1\t2\t1\t1\t1\t10\t60\t50\t20\t90.000000\tfirst",
            "5\t1\t2\t1\t1\t2\t70\t60\t40\t20\t90.000000\tline",
            "4\t1\t2\t1\t2\t0\t10\t90\t60\t20\t-1\t",
            "5\t1\t2\t1\t2\t1\t10\t90\t60\t20\t90.000000\tsecond",
        ], rows);
    }

    [Fact]
    public void Alto_SpacesSpanTheGapsBetweenWords()
    {
        var alto = XDocument.Parse(Write(AltoWriter.Write, TwoBlocks));
        var sp = Assert.Single(alto.Descendants(), e => e.Name.LocalName == "SP");
        Assert.Equal(("60", "10", "60"), ((string)sp.Attribute("HPOS")!, (string)sp.Attribute("WIDTH")!, (string)sp.Attribute("VPOS")!));
        Assert.Equal(["Title", "first", "line", "second"], alto.Descendants().Where(e => e.Name.LocalName == "String").Select(e => (string)e.Attribute("CONTENT")!));
    }

    [Fact]
    public void HostileText_StaysWellFormedAndKeepsItsColumns()
    {
        const string nasty = "<b>&'\"\u0001\ttab";
        var doc = new OcrDocument([new OcrPage("we'ird \"name\".png", Page(200, 50, [Line(5, 20, (nasty, 5, 150))]))]);
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore };
        var hocr = XDocument.Load(XmlReader.Create(new StringReader(Write(HocrWriter.Write, doc)), settings));
        Assert.Equal("<b>&'\"?\ttab", hocr.Descendants().Single(e => (string?)e.Attribute("class") == "ocrx_word").Value);
        Assert.Contains("we'ird", (string)hocr.Descendants().Single(e => (string?)e.Attribute("class") == "ocr_page").Attribute("title")!);
        var alto = XDocument.Parse(Write(AltoWriter.Write, doc));
        Assert.Equal("<b>&'\"?\ttab", (string)alto.Descendants().Single(e => e.Name.LocalName == "String").Attribute("CONTENT")!);
        var word = Write(TsvWriter.Write, doc).Split('\n', StringSplitOptions.RemoveEmptyEntries).Last().Split('\t');
        Assert.Equal(12, word.Length);
        Assert.Equal("<b>&'\"\u0001 tab", word[11]);
    }

    [Fact]
    public void PageWithNoText_IsAValidEmptyPageInEveryFormat()
    {
        var empty = new OcrDocument([new OcrPage("blank.png", Page(320, 200))]);
        Assert.Equal("", Write(OcrTextWriter.Write, empty));
        var hocr = XDocument.Load(XmlReader.Create(new StringReader(Write(HocrWriter.Write, empty)), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore }));
        var page = hocr.Descendants().Single(e => (string?)e.Attribute("class") == "ocr_page");
        Assert.Contains("bbox 0 0 320 200", (string)page.Attribute("title")!);
        Assert.Empty(page.Elements());
        var alto = XDocument.Parse(Write(AltoWriter.Write, empty));
        Assert.Equal("320", (string)alto.Descendants().Single(e => e.Name.LocalName == "Page").Attribute("WIDTH")!);
        Assert.DoesNotContain(alto.Descendants(), e => e.Name.LocalName == "TextLine");
        Assert.Equal([TsvWriter.Header, "1\t1\t0\t0\t0\t0\t0\t0\t320\t200\t-1\t"], Write(TsvWriter.Write, empty).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void FormatNames_ParseAndUnknownOnesAreRefusedNamingThem()
    {
        Assert.Equal(OcrOutputFormat.Hocr, OcrOutputFormats.Parse("HOCR"));
        Assert.Equal(OcrOutputFormat.Pdf, OcrOutputFormats.Parse("pdf"));
        var e = Assert.Throws<TesseraException>(() => OcrOutputFormats.Parse("docx"));
        Assert.Contains("docx", e.Message);
    }
}
