using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera ocr --format ... [-o OUT]</c> as a user runs it: several images make one document with a page
/// each, in every format; the file named by -o gets it and stdout stays empty; bad combinations and unwritable paths
/// are refused naming what is wrong. (The formats' structure against Tesseract's and the PDF read back by poppler are
/// tested in Tessera.Models.Tests/OcrOutput.)</summary>
public sealed class OcrFormatTests : IDisposable
{
    private const string Sample = "models/ppocr-v4/sample.png";
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-cli-format-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TesseraProcess.Result Ok(params string[] args)
    {
        var r = TesseraProcess.Run(args);
        Assert.True(r.ExitCode == 0, $"tessera {string.Join(' ', args)}: exit {r.ExitCode}, {r.Stderr}");
        return r;
    }

    private static XDocument Xml(string s) =>
        XDocument.Load(XmlReader.Create(new StringReader(s), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore }));

    [Fact]
    public void TwoImages_MakeOneDocumentWithTwoPages_InEveryTextFormat()
    {
        string text = Ok("ocr", Sample, Sample, "--format", "text", "--threads", "1").Stdout;
        var pages = text.Split("\f\n");
        Assert.Equal(2, pages.Length);
        Assert.Equal(pages[0], pages[1]);
        Assert.Equal(3, pages[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var hocr = Xml(Ok("ocr", Sample, Sample, "--format", "hocr", "--threads", "1").Stdout);
        Assert.Equal(["page_1", "page_2"], hocr.Descendants().Where(e => (string?)e.Attribute("class") == "ocr_page").Select(e => (string)e.Attribute("id")!));
        Assert.Equal(6, hocr.Descendants().Count(e => (string?)e.Attribute("class") == "ocr_line"));

        var alto = Xml(Ok("ocr", Sample, Sample, "--format", "alto", "--threads", "1").Stdout);
        Assert.Equal(2, alto.Descendants().Count(e => e.Name.LocalName == "Page"));

        var tsv = Ok("ocr", Sample, Sample, "--format", "tsv", "--threads", "1").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("level\tpage_num", tsv[0]);
        Assert.Equal(["1", "2"], tsv.Skip(1).Select(l => l.Split('\t')).Where(r => r[0] == "1").Select(r => r[1]));
    }

    [Fact]
    public void Json_HasBlocksLinesAndWordsWithBoxes_AndJsonFlagIsTheSame()
    {
        string viaFormat = Ok("ocr", Sample, "--format", "json", "--threads", "1").Stdout;
        using var doc = JsonDocument.Parse(viaFormat);
        var image = Assert.Single(doc.RootElement.GetProperty("images").EnumerateArray());
        // However the layout groups the sample's three lines into blocks, every line is in one, in reading order.
        var blocks = image.GetProperty("blocks").EnumerateArray().ToArray();
        Assert.All(blocks, b => Assert.Equal(4, b.GetProperty("bbox").GetArrayLength()));
        var lines = blocks.SelectMany(b => b.GetProperty("lines").EnumerateArray()).ToArray();
        Assert.Equal(image.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("text").GetString()), lines.Select(l => l.GetProperty("text").GetString()));
        Assert.Equal(3, lines.Length);
        foreach (var l in lines)
        {
            var words = l.GetProperty("words").EnumerateArray().ToArray();
            Assert.NotEmpty(words);
            // The words' text is the line's, without its spaces.
            Assert.Equal(l.GetProperty("text").GetString()!.Replace(" ", ""), string.Concat(words.Select(w => w.GetProperty("text").GetString()!.Replace(" ", ""))));
            Assert.All(words, w => Assert.InRange(w.GetProperty("confidence").GetDouble(), 0, 1));
            Assert.All(words, w => Assert.Equal(4, w.GetProperty("bbox").GetArrayLength()));
        }
        string viaFlag = Ok("ocr", Sample, "--json", "--threads", "1").Stdout;
        using var flag = JsonDocument.Parse(viaFlag);
        Assert.Equal(
            image.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("text").GetString()),
            flag.RootElement.GetProperty("images")[0].GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("text").GetString()));
    }

    [Fact]
    public void Pdf_GoesToTheOutFile_WithAPagePerImage()
    {
        string pdf = Path.Combine(_dir, "out.pdf");
        var r = Ok("ocr", Sample, Sample, "--format", "pdf", "-o", pdf, "--threads", "1");
        Assert.Equal("", r.Stdout);
        string body = Encoding.Latin1.GetString(File.ReadAllBytes(pdf));
        Assert.StartsWith("%PDF-1.4\n", body);
        Assert.EndsWith("%%EOF\n", body);
        Assert.Equal(2, Regex.Count(body, @"/Type /Page /"));
        Assert.Contains("/Count 2", body);
        Assert.Contains("/FlateDecode", body);
        // A JPEG page goes in as the file's own bytes.
        const string jpeg = "tests/Tessera.Models.Tests/Data/tiny.jpg";
        string jpegPdf = Path.Combine(_dir, "jpeg.pdf");
        Ok("ocr", jpeg, "--format", "pdf", "-o", jpegPdf, "--threads", "1");
        byte[] bytes = File.ReadAllBytes(jpegPdf);
        Assert.Contains("/DCTDecode", Encoding.Latin1.GetString(bytes));
        Assert.True(bytes.AsSpan().IndexOf(File.ReadAllBytes(Path.Combine(TesseraProcess.RepoRoot, jpeg))) > 0, "the JPEG's bytes are not in the PDF");
    }

    [Fact]
    public void OutFile_GetsTheText_AndABlankPageGivesAnEmptyValidDocument()
    {
        string blank = Path.Combine(_dir, "blank.bmp");
        File.WriteAllBytes(blank, WhiteBmp(160, 90));
        string hocrPath = Path.Combine(_dir, "blank.hocr");
        var r = Ok("ocr", blank, "--format", "hocr", "--out", hocrPath, "--threads", "1");
        Assert.Equal("", r.Stdout);
        var page = Xml(File.ReadAllText(hocrPath)).Descendants().Single(e => (string?)e.Attribute("class") == "ocr_page");
        Assert.Contains("bbox 0 0 160 90", (string)page.Attribute("title")!);
        Assert.Empty(page.Elements());
        Assert.Equal("", Ok("ocr", blank, "--threads", "1").Stdout);
        string pdf = Path.Combine(_dir, "blank.pdf");
        Ok("ocr", blank, "--format", "pdf", "-o", pdf, "--threads", "1");
        Assert.Contains("/MediaBox [0 0 160 90]", Encoding.Latin1.GetString(File.ReadAllBytes(pdf)));
    }

    [Theory]
    [InlineData("--format", "docx", "docx")]
    [InlineData("--format", "pdf", "-o FILE")]
    [InlineData("--json", "--format=hocr", "--json")]
    public void BadFormatOptions_AreRefusedNamingThem(string option, string value, string named)
    {
        var r = TesseraProcess.Run("ocr", Sample, option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.Equal("", r.Stdout.Trim());
    }

    [Fact]
    public void UnwritableOutPaths_AreRefusedNamingThePath()
    {
        string noDir = Path.Combine(_dir, "no-such-dir", "out.hocr");
        foreach (var path in new[] { noDir, _dir })
        {
            var r = TesseraProcess.Run("ocr", Sample, "--format", "hocr", "-o", path);
            Assert.True(r.ExitCode == 1, $"{path}: exit {r.ExitCode}");
            Assert.Contains(path, r.Stderr);
            Assert.DoesNotContain("   at ", r.Stderr);
            Assert.Equal("", r.Stdout);
        }
    }

    // A 24-bit bottom-up BMP of white pixels (rows padded to 4 bytes).
    private static byte[] WhiteBmp(int w, int h)
    {
        int row = (w * 3 + 3) & ~3, size = 54 + row * h;
        var b = new byte[size];
        Array.Fill(b, (byte)255, 54, row * h);
        "BM"u8.CopyTo(b);
        BitConverter.TryWriteBytes(b.AsSpan(2), size);
        BitConverter.TryWriteBytes(b.AsSpan(10), 54);
        BitConverter.TryWriteBytes(b.AsSpan(14), 40);
        BitConverter.TryWriteBytes(b.AsSpan(18), w);
        BitConverter.TryWriteBytes(b.AsSpan(22), h);
        BitConverter.TryWriteBytes(b.AsSpan(26), (short)1);
        BitConverter.TryWriteBytes(b.AsSpan(28), (short)24);
        BitConverter.TryWriteBytes(b.AsSpan(34), row * h);
        return b;
    }
}
