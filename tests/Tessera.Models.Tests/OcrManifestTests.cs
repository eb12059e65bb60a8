using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>Model directories described by a manifest: recognisers picked by language (--lang), a dictionary given
/// on its own (--dict), and clear errors for what is not there. The directories are written here, with the bundled
/// files copied under other names, so that nothing but the manifest can say which file is which.</summary>
public sealed class OcrManifestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-ocr-manifest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Copy(string from, string name) => File.Copy(from, Path.Combine(_dir, name));

    private void WriteManifest(string json) => File.WriteAllText(Path.Combine(_dir, OcrModelManifest.FileName), json);

    private const string TwoLanguages = """
        { "detector": "finder.onnx", "classifier": "turner.onnx", "default_language": "zh",
          // comments and trailing commas are allowed
          "recognizers": { "zh": { "model": "reader-a.onnx", "dictionary": "chars-a.txt" },
                           "latin": { "model": "reader-b.onnx", "dictionary": "chars-b.txt", "description": "a copy" }, } }
        """;

    private void WriteTwoLanguages()
    {
        Copy(ModelFiles.Det, "finder.onnx");
        Copy(ModelFiles.Cls, "turner.onnx");
        Copy(ModelFiles.Rec, "reader-a.onnx");
        Copy(ModelFiles.Keys, "chars-a.txt");
        Copy(ModelFiles.Rec, "reader-b.onnx");
        Copy(ModelFiles.Keys, "chars-b.txt");
        WriteManifest(TwoLanguages);
    }

    private string[] Read(OcrOptions options)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var pipeline = OcrPipeline.Load(_dir, cpu, options);
        return pipeline.Run(ImageDecoder.DecodeFile(OcrRecFixture.Sample)).Lines.Select(l => l.Text).ToArray();
    }

    [Fact]
    public void Languages_AreFoundByTheManifestsNames()
    {
        WriteTwoLanguages();
        Assert.Equal(OcrRecFixture.Expected, Read(new OcrOptions()));
        Assert.Equal(OcrRecFixture.Expected, Read(new OcrOptions { Language = "latin", UseAngleClassifier = true }));
        Assert.Equal(OcrRecFixture.Expected, Read(new OcrOptions { Language = "zh", DictionaryPath = "chars-b.txt" }));
        var m = OcrModelManifest.Load(_dir);
        Assert.Equal(["latin", "zh"], m.Languages);
        Assert.Equal("a copy", m.Recognizer("latin").Description);
    }

    [Fact]
    public void UnknownLanguage_ListsTheAvailableOnes()
    {
        WriteTwoLanguages();
        var e = Assert.Throws<TesseraException>(() => Read(new OcrOptions { Language = "fr" }));
        Assert.Contains("'fr'", e.Message);
        Assert.Contains("available: latin, zh", e.Message);
    }

    [Fact]
    public void MissingFiles_AndBadManifests_AreNamed()
    {
        WriteManifest(TwoLanguages);
        var e = Assert.Throws<TesseraException>(() => Read(new OcrOptions()));
        Assert.Contains("reader-a.onnx", e.Message);
        Copy(ModelFiles.Det, "finder.onnx");
        Copy(ModelFiles.Rec, "reader-a.onnx");
        e = Assert.Throws<TesseraException>(() => Read(new OcrOptions { DictionaryPath = "not-there.txt" }));
        Assert.Contains("not-there.txt", e.Message);
        WriteManifest("""{ "detector": "finder.onnx", "default_language": "en", "recognizers": { "zh": { "model": "a", "dictionary": "b" } } }""");
        e = Assert.Throws<TesseraException>(() => OcrModelManifest.Load(_dir));
        Assert.Contains("default_language 'en'", e.Message);
        WriteManifest("""{ "detector": """);
        e = Assert.Throws<TesseraException>(() => OcrModelManifest.Load(_dir));
        Assert.Contains(OcrModelManifest.FileName, e.Message);
        WriteManifest("""{ "detector": "finder.onnx", "default_language": "zh", "recognizers": { "zh": { "model": "reader-a.onnx", "dictionary": "" } } }""");
        e = Assert.Throws<TesseraException>(() => OcrModelManifest.Load(_dir));
        Assert.Contains("'zh' needs both", e.Message);
    }

    [Fact]
    public void WrongDictionary_NamesBothClassCounts()
    {
        WriteTwoLanguages();
        File.WriteAllLines(Path.Combine(_dir, "short.txt"), ["a", "b", "c"]);
        var e = Assert.Throws<TesseraException>(() => Read(new OcrOptions { DictionaryPath = Path.Combine(_dir, "short.txt") }));
        Assert.Contains("classes", e.Message);
    }

    [Fact]
    public void BundledDirectory_HasAManifest_AndADirectoryWithoutOneTakesPaddlesNames()
    {
        var bundled = OcrModelManifest.Load(Path.GetDirectoryName(ModelFiles.Rec)!);
        Assert.NotSame(OcrModelManifest.PaddleDefaults, bundled);
        Assert.Equal(Path.GetFileName(ModelFiles.Rec), bundled.Recognizer(null).Model);
        Assert.Same(OcrModelManifest.PaddleDefaults, OcrModelManifest.Load(_dir));
    }
}
