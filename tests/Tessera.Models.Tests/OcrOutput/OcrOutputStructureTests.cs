using System.Xml;
using System.Xml.Linq;
using Tessera.Models.Ocr;
using Tessera.Models.Ocr.Output;
using Xunit.Abstractions;
using static Tessera.Models.Tests.OcrOutput.OcrOutputFixture;

namespace Tessera.Models.Tests.OcrOutput;

/// <summary>hOCR, ALTO and TSV against what Tesseract itself writes for the same page (tesseract run here on the
/// bundled sample): the same element kinds, nesting, attribute names and id schemes; not the same text or boxes,
/// which are each engine's own reading.</summary>
public sealed class OcrOutputStructureTests(ITestOutputHelper log)
{
    private static readonly Lazy<string> s_tesseract = new(() =>
    {
        string dir = TempDir();
        File.Copy(OcrRecFixture.Sample, Path.Combine(dir, "sample.png"));
        var r = Run("tesseract", dir, "sample.png", "out", "hocr", "alto", "tsv");
        if (r.Exit != 0) throw new InvalidOperationException($"tesseract failed ({r.Exit}): {r.Stderr}");
        return dir;
    });

    private static string Tesseract(string file)
    {
        Skip.IfNot(Has("tesseract"), "tesseract is not installed (apt-get install tesseract-ocr)");
        return File.ReadAllText(Path.Combine(s_tesseract.Value, file));
    }

    private static string Write(Action<OcrDocument, TextWriter> writer, OcrDocument doc)
    {
        var sw = new StringWriter();
        writer(doc, sw);
        return sw.ToString();
    }

    private static XDocument Parse(string xml) =>
        XDocument.Load(XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore }));

    // An element's kind: its name, and its hOCR class when it has one.
    private static string Kind(XElement e) => e.Attribute("class") is { } c ? $"{e.Name.LocalName}.{c.Value}" : e.Name.LocalName;

    /// <summary>Every root-to-element path of kinds, and each kind's attribute names.</summary>
    private static (SortedSet<string> Paths, Dictionary<string, SortedSet<string>> Attributes) Shape(XDocument d)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        var attrs = new Dictionary<string, SortedSet<string>>();
        foreach (var e in d.Descendants())
        {
            paths.Add(string.Join('/', e.AncestorsAndSelf().Reverse().Select(Kind)));
            if (!attrs.TryGetValue(Kind(e), out var set)) attrs[Kind(e)] = set = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var a in e.Attributes()) set.Add(a.Name.ToString());
        }
        return (paths, attrs);
    }

    /// <summary>Same paths and attribute names; <paramref name="ignoredAttributes"/> are "kind@name" that Tessera leaves
    /// out, <paramref name="optionalPaths"/> paths it may leave out on this page.</summary>
    private void AssertSameShape(XDocument ours, XDocument theirs, string[] ignoredAttributes, string[] optionalPaths)
    {
        var (op, oa) = Shape(ours);
        var (tp, ta) = Shape(theirs);
        log.WriteLine(string.Join('\n', op));
        Assert.Equal(tp.Except(optionalPaths), op.Except(optionalPaths));
        foreach (var (kind, names) in ta)
            if (!oa.ContainsKey(kind)) Assert.Contains(optionalPaths, p => p.EndsWith("/" + kind, StringComparison.Ordinal));
            else Assert.Equal(names.Where(n => !ignoredAttributes.Contains($"{kind}@{n}")), oa[kind].AsEnumerable());
    }

    // hOCR's title properties ("bbox 1 2 3 4; x_wconf 91") by class.
    private static Dictionary<string, HashSet<string>> TitleKeys(XDocument d) =>
        d.Descendants().Where(e => e.Attribute("class") is not null && e.Attribute("title") is not null)
            .GroupBy(e => e.Attribute("class")!.Value)
            .ToDictionary(g => g.Key, g => g.SelectMany(e => e.Attribute("title")!.Value.Split(';')
                .Select(p => p.Trim().Split(' ')[0])).ToHashSet());

    private static string IdScheme(string id) => System.Text.RegularExpressions.Regex.Replace(id, @"\d+", "N");

    [SkippableFact]
    public void Hocr_HasTesseractsElementsNestingAttributesAndIds()
    {
        var theirs = Parse(Tesseract("out.hocr"));
        var ours = Parse(Write(HocrWriter.Write, Sample()));
        // lang names the tesseract language model used; Tessera's recogniser has no such notion, so it is left out.
        AssertSameShape(ours, theirs, ["p.ocr_par@lang"], []);
        var tk = TitleKeys(theirs);
        foreach (var (cls, keys) in TitleKeys(ours))
        {
            Assert.Subset(tk[cls], keys);
            Assert.Contains("bbox", keys);
        }
        Assert.Contains("x_wconf", TitleKeys(ours)["ocrx_word"]);
        Assert.Equal(
            theirs.Descendants().Select(e => e.Attribute("id")?.Value).OfType<string>().Select(IdScheme).ToHashSet(),
            ours.Descendants().Select(e => e.Attribute("id")?.Value).OfType<string>().Select(IdScheme).ToHashSet());
        // The words, in order, are the OCR's words, and their confidences are on 0-100.
        var words = ours.Descendants().Where(e => (string?)e.Attribute("class") == "ocrx_word").ToArray();
        Assert.Equal(Sample().Pages[0].Result.Lines.SelectMany(l => l.Words).Select(w => w.Text), words.Select(w => w.Value));
        Assert.All(words, w => Assert.InRange(int.Parse(w.Attribute("title")!.Value.Split("x_wconf ")[1]), 50, 100));
    }

    [SkippableFact]
    public void Alto_HasTesseractsElementsNestingAndAttributes()
    {
        var theirs = Parse(Tesseract("out.xml"));
        var ours = Parse(Write(AltoWriter.Write, Sample()));
        // SP marks the space between two words of a line: only there when the recogniser's lines have several words.
        bool severalWords = Sample().Pages[0].Result.Lines.Any(l => l.Words.Count > 1);
        AssertSameShape(ours, theirs, [], severalWords ? [] : ["alto/Layout/Page/PrintSpace/ComposedBlock/TextBlock/TextLine/SP"]);
        var sp = Parse(Write(AltoWriter.Write, new OcrDocument([new OcrPage("x.png", Page(100, 40, [Line(5, 20, ("a", 5, 20), ("b", 40, 20))]))])))
            .Descendants().Single(e => e.Name.LocalName == "SP");
        Assert.Equal(Shape(theirs).Attributes["SP"], sp.Attributes().Select(a => a.Name.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal(theirs.Root!.Name, ours.Root!.Name);
        var ids = ours.Descendants().Select(e => e.Attribute("ID")?.Value).OfType<string>().ToArray();
        Assert.Equal(
            theirs.Descendants().Select(e => e.Attribute("ID")?.Value).OfType<string>().Select(IdScheme).ToHashSet(),
            ids.Select(IdScheme).ToHashSet());
        var strings = ours.Descendants().Where(e => e.Name.LocalName == "String").ToArray();
        Assert.All(strings, s => Assert.InRange(double.Parse(s.Attribute("WC")!.Value, System.Globalization.CultureInfo.InvariantCulture), 0.5, 1.0));
    }

    [SkippableFact]
    public void Tsv_HasTesseractsColumnsLevelsAndNumbering()
    {
        static string[][] Rows(string tsv) => tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToArray();
        var theirs = Rows(Tesseract("out.tsv"));
        var ours = Rows(Write(TsvWriter.Write, Sample()));
        Assert.Equal(theirs[0], ours[0]);
        Assert.All(ours, r => Assert.Equal(12, r.Length));
        // Which numbering columns are zero at each level: Tesseract's pattern.
        static HashSet<string> Pattern(string[][] rows) =>
            rows.Skip(1).Select(r => r[0] + ":" + string.Concat(r[1..6].Select(v => v == "0" ? '0' : 'n')) + (r[10] == "-1" ? ":-1" : ":conf")).ToHashSet();
        Assert.Equal(Pattern(theirs), Pattern(ours));
        Assert.Equal(new[] { "1", "2", "3", "4", "5" }, ours.Skip(1).Select(r => r[0]).Distinct().ToArray());
    }

    [Fact]
    public void SeveralPages_AreOneDocumentWithAPageEach()
    {
        var doc = Sample(pages: 2);
        var hocr = Parse(Write(HocrWriter.Write, doc));
        Assert.Equal(["page_1", "page_2"], hocr.Descendants().Where(e => (string?)e.Attribute("class") == "ocr_page").Select(e => e.Attribute("id")!.Value));
        Assert.Contains(hocr.Descendants(), e => (string?)e.Attribute("id") == "word_2_1");
        var alto = Parse(Write(AltoWriter.Write, doc));
        Assert.Equal(2, alto.Descendants().Count(e => e.Name.LocalName == "Page"));
        var ids = alto.Descendants().Select(e => e.Attribute("ID")?.Value).OfType<string>().ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        var tsv = Write(TsvWriter.Write, doc).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split('\t')).ToArray();
        Assert.Equal(["1", "2"], tsv.Where(r => r[0] == "1").Select(r => r[1]));
        Assert.Equal(tsv.Length / 2, tsv.Count(r => r[1] == "2"));
    }
}
