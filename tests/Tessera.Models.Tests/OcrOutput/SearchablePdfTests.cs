using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Tessera.Imaging;
using Tessera.Models.Ocr;
using Tessera.Models.Ocr.Output;
using static Tessera.Models.Tests.OcrOutput.OcrOutputFixture;

namespace Tessera.Models.Tests.OcrOutput;

/// <summary>The searchable PDF read back by poppler (pdftotext, pdftoppm, pdfinfo), an independent PDF reader: the
/// text extracts in reading order, each word lies on its box, the page renders to the image, several pages are
/// several pages, and poppler reports no syntax or xref problem. The cross-reference table is also checked byte by
/// byte here.</summary>
public sealed class SearchablePdfTests
{
    private static void NeedPoppler() =>
        Skip.IfNot(Has("pdftotext") && Has("pdftoppm") && Has("pdfinfo"), "poppler-utils is not installed (apt-get install poppler-utils)");

    private static string WritePdf(OcrDocument doc, Func<int, Image> images, SearchablePdfOptions? options = null)
    {
        string path = Path.Combine(TempDir(), "out.pdf");
        using (var f = File.Create(path)) SearchablePdfWriter.Write(doc, images, f, options);
        return path;
    }

    private static string Poppler(string tool, params string[] args)
    {
        var r = Run(tool, Path.GetTempPath(), args);
        Assert.True(r.Exit == 0, $"{tool} failed ({r.Exit}): {r.Stderr}");
        Assert.True(r.Stderr.Trim() == "", $"{tool} warned: {r.Stderr}");
        return r.Stdout;
    }

    private static string Squash(string s) => Regex.Replace(s, @"\s+", " ").Trim();

    // Words on known boxes: a title block and a block of two lines, with Latin-1 and Windows-1252 characters, and a
    // word WinAnsi cannot hold.
    private static readonly OcrDocument Letter = new([new OcrPage("letter.png", Page(600, 400,
        [Line(20, 30, ("Café", 40, 90), ("naïve", 150, 110), ("€5", 290, 50))],
        [Line(100, 24, ("Dear", 40, 70), ("Jürgen,", 120, 120), ("日本", 260, 60)),
         Line(140, 24, ("(see", 40, 60), ("\\notes)", 110, 120), ("—", 240, 30), ("ok", 280, 40))]))]);

    private static Image Paper(int w, int h) => new(Enumerable.Repeat((byte)230, w * h * 3).ToArray(), w, h);

    [SkippableFact]
    public void Sample_TextExtractsInReadingOrder()
    {
        NeedPoppler();
        var doc = Sample();
        string pdf = WritePdf(doc, _ => SampleImage());
        string expected = Squash(string.Join(' ', doc.Pages[0].Result.Lines.Select(l => l.Text)));
        Assert.Equal(doc.Pages[0].Result.Lines.Select(l => Squash(l.Text)),
            Poppler("pdftotext", "-raw", pdf, "-").Split('\n').Select(Squash).Where(l => l.Length > 0));
        Assert.Equal(expected, Squash(Poppler("pdftotext", "-layout", pdf, "-")));
        Assert.Matches(@"Pages:\s+1\n", Poppler("pdfinfo", pdf));
    }

    [SkippableFact]
    public void Words_ExtractExactlyAndLieOnTheirBoxes()
    {
        NeedPoppler();
        foreach (double dpi in new[] { 72.0, 150.0 })
        {
            string pdf = WritePdf(Letter, _ => Paper(600, 400), new SearchablePdfOptions { Dpi = dpi });
            Assert.Equal(["Café naïve €5", "Dear Jürgen, ??", "(see \\notes) — ok"],
                Poppler("pdftotext", "-raw", pdf, "-").Split('\n').Select(Squash).Where(l => l.Length > 0));
            var html = Poppler("pdftotext", "-bbox", pdf, "-");
            var page = XDocument.Parse(html[html.IndexOf("<html", StringComparison.Ordinal)..]).Descendants().Single(e => e.Name.LocalName == "page");
            double pt = 72 / dpi;
            Assert.Equal(600 * pt, double.Parse((string)page.Attribute("width")!, CultureInfo.InvariantCulture), 2);
            var words = page.Elements().ToArray();
            var lines = Letter.Pages[0].Result.Lines;
            var boxes = lines.SelectMany(l => l.Words.Select(w => (w.Box, Line: l.Bounds))).ToArray();
            Assert.Equal(boxes.Length, words.Length);
            for (int i = 0; i < words.Length; i++)
            {
                double D(string a) => double.Parse((string)words[i].Attribute(a)!, CultureInfo.InvariantCulture) / pt;
                var (box, line) = boxes[i];
                // Within a pixel (and a point) horizontally; vertically the words of a line share its height.
                Assert.InRange(D("xMin"), box.X - 1.5, box.X + 1.5);
                Assert.InRange(D("xMax"), box.Right - 1.5, box.Right + 1.5);
                Assert.InRange(D("yMin"), line.Y - 2, line.Y + 2);
                Assert.InRange(D("yMax"), line.Bottom - 2, line.Bottom + 2);
            }
        }
    }

    [SkippableFact]
    public void Page_RendersAsItsImage_InColourAndGray()
    {
        NeedPoppler();
        var rgb = SampleImage();
        // A colour gradient over the sample, so that a swapped channel order or a shifted row would show.
        var px = (byte[])rgb.Pixels.Clone();
        for (int i = 0; i < px.Length; i += 3) { px[i] = (byte)(px[i] / 2 + (i / 3 % rgb.Width) * 127 / rgb.Width); px[i + 2] = (byte)(px[i + 2] / 2); }
        var colour = new Image(px, rgb.Width, rgb.Height);
        var gray = new Image(rgb.Pixels.Where((_, i) => i % 3 == 1).ToArray(), rgb.Width, rgb.Height, 1);
        foreach (var img in new[] { colour, gray })
        {
            string pdf = WritePdf(Sample(), _ => img);
            string dir = Path.GetDirectoryName(pdf)!;
            Poppler("pdftoppm", "-r", "72", pdf, Path.Combine(dir, "page"));
            var (w, h, rendered) = ReadPpm(Directory.GetFiles(dir, "page*.ppm").Single());
            Assert.Equal((img.Width, img.Height), (w, h));
            var expected = img.ToRgb();
            // poppler resamples the image even at one pixel a point, which blurs the text's edges a little: the render
            // must be close to the image, and much further from it with a row shift or the red and blue swapped.
            double aligned = MeanDifference(expected, rendered, w, 0, false);
            Assert.True(aligned < 4, $"mean absolute difference {aligned:F2} of the render from the image");
            Assert.True(MeanDifference(expected, rendered, w, 1, false) > aligned * 1.5, "the render matches a row-shifted image as well");
            if (img.Channels == 3) Assert.True(MeanDifference(expected, rendered, w, 0, true) > aligned * 5, "the render matches the image with red and blue swapped");
        }
    }

    private static double MeanDifference(byte[] expected, byte[] rendered, int width, int rowShift, bool swapRedBlue)
    {
        double err = 0;
        int n = 0;
        for (int i = rowShift * width * 3; i < expected.Length; i++, n++)
        {
            int c = i % 3, j = i - rowShift * width * 3;
            int src = swapRedBlue && c != 1 ? i - c + (2 - c) : i;
            err += Math.Abs(expected[src] - rendered[j]);
        }
        return err / n;
    }

    [SkippableFact]
    public void JpegPage_IsCarriedAsItsOwnBytes_AndRendersAsItsPixels()
    {
        NeedPoppler();
        Skip.IfNot(Has("convert"), "ImageMagick is not installed (apt-get install imagemagick)");
        string dir = TempDir(), jpg = Path.Combine(dir, "sample.jpg");
        var mk = Run("convert", dir, OcrRecFixture.Sample, "-quality", "90", jpg);
        Assert.True(mk.Exit == 0, mk.Stderr);
        byte[] bytes = File.ReadAllBytes(jpg);
        Assert.True(SearchablePdfImage.IsCarriableJpeg(bytes));
        var decoded = ImageDecoder.DecodeFile(jpg);
        var pixels = new Image(decoded.Pixels, decoded.Width, decoded.Height, 3);
        string pdf = Path.Combine(dir, "out.pdf");
        using (var f = File.Create(pdf)) SearchablePdfWriter.Write(Sample(), _ => SearchablePdfImage.FromJpeg(bytes), f);
        // The file's bytes are in the PDF as they are.
        Assert.True(File.ReadAllBytes(pdf).AsSpan().IndexOf(bytes) > 0, "the JPEG's bytes are not in the PDF");
        Assert.Contains("/DCTDecode", Encoding.Latin1.GetString(File.ReadAllBytes(pdf)));
        Poppler("pdftoppm", "-r", "72", pdf, Path.Combine(dir, "page"));
        var (w, h, rendered) = ReadPpm(Directory.GetFiles(dir, "page*.ppm").Single());
        Assert.Equal((pixels.Width, pixels.Height), (w, h));
        // Two JPEG decoders (poppler's and Tessera's) agree to within their rounding, and both to the sample.
        Assert.InRange(MeanDifference(pixels.ToRgb(), rendered, w, 0, false), 0, 4);
        Assert.Equal(Sample().Pages[0].Result.Lines.Select(l => Squash(l.Text)),
            Poppler("pdftotext", "-raw", pdf, "-").Split('\n').Select(Squash).Where(l => l.Length > 0));
        Assert.False(SearchablePdfImage.IsCarriableJpeg(File.ReadAllBytes(OcrRecFixture.Sample)));
        Assert.Contains("SOI", Assert.Throws<TesseraException>(() =>
            SearchablePdfWriter.Write(Sample(), _ => SearchablePdfImage.FromJpeg([1, 2, 3, 4]), new MemoryStream())).Message);
        Assert.Contains("frame", Assert.Throws<TesseraException>(() =>
            SearchablePdfWriter.Write(Sample(), _ => SearchablePdfImage.FromJpeg(bytes[..20]), new MemoryStream())).Message);
    }

    [SkippableFact]
    public void SeveralPages_AreSeveralPages_EachWithItsText()
    {
        NeedPoppler();
        var blank = new OcrPage("blank.png", Page(300, 200));
        var doc = new OcrDocument([Sample().Pages[0], Letter.Pages[0], blank]);
        Image[] images = [SampleImage(), Paper(600, 400), Paper(300, 200)];
        string pdf = WritePdf(doc, i => images[i]);
        Assert.Matches(@"Pages:\s+3\n", Poppler("pdfinfo", pdf));
        Assert.StartsWith("Café", Squash(Poppler("pdftotext", "-f", "2", "-l", "2", "-raw", pdf, "-")));
        Assert.Equal("", Squash(Poppler("pdftotext", "-f", "3", "-l", "3", "-raw", pdf, "-")));
        Assert.Matches(@"Page +3 size: +300 x 200 pts", Poppler("pdfinfo", "-f", "3", "-l", "3", pdf));
        Poppler("pdftoppm", "-r", "10", "-png", pdf, Path.Combine(Path.GetDirectoryName(pdf)!, "p"));
        Assert.Equal(3, Directory.GetFiles(Path.GetDirectoryName(pdf)!, "p*.png").Length);
    }

    [SkippableFact]
    public void HugeImage_IsScaledToTheLargestPageReadersSupport()
    {
        NeedPoppler();
        var doc = new OcrDocument([new OcrPage("wide.png", Page(28_800, 40, [Line(10, 20, ("far", 20_000, 400))]))]);
        string pdf = WritePdf(doc, _ => Paper(28_800, 40));
        Assert.Matches(@"Page size: +14400 x 20 pts", Poppler("pdfinfo", pdf));
        var html = Poppler("pdftotext", "-bbox", pdf, "-");
        var word = XDocument.Parse(html[html.IndexOf("<html", StringComparison.Ordinal)..]).Descendants().Single(e => e.Name.LocalName == "word");
        Assert.Equal("far", word.Value);
        Assert.Equal(10_000, double.Parse((string)word.Attribute("xMin")!, CultureInfo.InvariantCulture), 0);
    }

    [Fact]
    public void CrossReferenceTable_PointsAtEveryObject()
    {
        var ms = new MemoryStream();
        SearchablePdfWriter.Write(Letter, _ => Paper(600, 400), ms);
        byte[] bytes = ms.ToArray();
        string text = Encoding.Latin1.GetString(bytes);
        int startxref = int.Parse(Regex.Match(text, @"startxref\n(\d+)\n%%EOF\n$").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.StartsWith("xref\n0 ", text[startxref..]);
        var header = Regex.Match(text[startxref..], @"^xref\n0 (\d+)\n");
        int count = int.Parse(header.Groups[1].Value, CultureInfo.InvariantCulture);
        int at = startxref + header.Length;
        Assert.Equal("0000000000 65535 f \n", text.Substring(at, 20));
        for (int n = 1; n < count; n++)
        {
            string entry = text.Substring(at + 20 * n, 20);
            Assert.Matches(@"^\d{10} 00000 n \n$", entry);
            int offset = int.Parse(entry[..10], CultureInfo.InvariantCulture);
            Assert.StartsWith($"{n} 0 obj\n", text[offset..]);
        }
        Assert.Contains($"/Size {count} ", text[startxref..]);
    }

    [Fact]
    public void BadInput_IsRefusedClearly()
    {
        Assert.Contains("no pages", Assert.Throws<TesseraException>(() => SearchablePdfWriter.Write(new OcrDocument([]), _ => Paper(1, 1), new MemoryStream())).Message);
        Assert.Contains("Dpi", Assert.Throws<TesseraException>(() =>
            SearchablePdfWriter.Write(Letter, _ => Paper(600, 400), new MemoryStream(), new SearchablePdfOptions { Dpi = 0 })).Message);
        Assert.Contains("bytes", Assert.Throws<TesseraException>(() =>
            SearchablePdfWriter.Write(Letter, _ => new Image(new byte[5], 600, 400), new MemoryStream())).Message);
    }

    private static (int W, int H, byte[] Rgb) ReadPpm(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        // "P6\n<w> <h>\n255\n" then the pixels.
        int pos = 0;
        string Token()
        {
            while (char.IsWhiteSpace((char)b[pos])) pos++;
            int s = pos;
            while (!char.IsWhiteSpace((char)b[pos])) pos++;
            return Encoding.ASCII.GetString(b, s, pos - s);
        }
        Assert.Equal("P6", Token());
        int w = int.Parse(Token(), CultureInfo.InvariantCulture), h = int.Parse(Token(), CultureInfo.InvariantCulture);
        Token();
        pos++;
        return (w, h, b[pos..]);
    }
}
