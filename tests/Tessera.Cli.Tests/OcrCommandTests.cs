using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera ocr</c> as a user runs it: the README's main command, its options, and its refusals of bad
/// input (exit code 1 and a message naming what was wrong, on stderr; nothing on stdout).</summary>
public class OcrCommandTests
{
    private const string Sample = "models/ppocr-v4/sample.png";

    // Lines with spaces removed: what the recogniser reads before word spacing.
    private static string[] Expected() =>
        File.ReadAllLines(Path.Combine(TesseraProcess.RepoRoot, "models/ppocr-v4/sample.expected.txt"))
            .Where(l => l.Length > 0).Select(NoSpaces).ToArray();

    private static string NoSpaces(string s) => s.Replace(" ", "");

    private static string[] Lines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public void TheReadmeCommandPrintsTheSampleText()
    {
        // Exactly, spaces included: the recogniser drops the first line's spaces, the CTC alignment puts them back.
        var r = TesseraProcess.Run("ocr", Sample);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string[] expected = File.ReadAllLines(Path.Combine(TesseraProcess.RepoRoot, "models/ppocr-v4/sample.expected.txt"))
            .Where(l => l.Length > 0).ToArray();
        Assert.Equal(expected, Lines(r.Stdout));
        Assert.Equal("Tessera reads this line", Lines(r.Stdout)[0]);
    }

    [Fact]
    public void SpacesModelKeepsTheRawText_AndOffRemovesSpaces()
    {
        var model = TesseraProcess.Run("ocr", Sample, "--spaces", "model", "--layout", "sparse");
        Assert.True(model.ExitCode == 0, model.Stderr);
        Assert.Equal(Expected(), Lines(model.Stdout).Select(NoSpaces).ToArray());
        var off = TesseraProcess.Run("ocr", Sample, "--spaces", "off", "--layout", "single-block");
        Assert.True(off.ExitCode == 0, off.Stderr);
        Assert.Equal(Expected(), Lines(off.Stdout));
    }

    [Fact]
    public void BadSpacesOrLayoutValues_AreRefused()
    {
        foreach (var args in new[] { new[] { "ocr", Sample, "--spaces", "some" }, ["ocr", Sample, "--layout", "columns"] })
        {
            var r = TesseraProcess.Run(args);
            Assert.NotEqual(0, r.ExitCode);
            // System.CommandLine names the bad value on stderr (and prints the usage on stdout).
            Assert.Contains(args[3], r.Stderr);
        }
    }

    [Fact]
    public void JsonWithBeamSearchAndPreprocessingReportsBoxesTextAndTimings()
    {
        var r = TesseraProcess.Run("ocr", Sample, "--json", "--beam", "5", "--preprocess", "gray,median:3", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var image = Assert.Single(doc.RootElement.GetProperty("images").EnumerateArray());
        Assert.Equal(800, image.GetProperty("width").GetInt32());
        var lines = image.GetProperty("lines").EnumerateArray().ToArray();
        Assert.Equal(Expected(), lines.Select(l => NoSpaces(l.GetProperty("text").GetString()!)).ToArray());
        foreach (var l in lines)
        {
            Assert.InRange(l.GetProperty("confidence").GetDouble(), 0.5, 1.0);
            var box = l.GetProperty("box").EnumerateArray().ToArray();
            Assert.Equal(4, box.Length);
            Assert.All(box, p => Assert.InRange(p[0].GetDouble(), 0, 800));
        }
        var t = image.GetProperty("timings_ms");
        foreach (var stage in new[] { "preprocess", "det", "rec", "total" })
            Assert.True(t.GetProperty(stage).GetDouble() > 0, $"timing '{stage}' should be positive: {t}");
    }

    [Fact]
    public void LangAndDictFromTheManifest_ReadTheSample()
    {
        var r = TesseraProcess.Run("ocr", Sample, "--lang", "ch", "--dict", "ppocr_keys_v1.txt");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("Tessera reads this line", Lines(r.Stdout)[0]);
    }

    [Fact]
    public void DetectionOnlyPrintsOneBoxPerLine()
    {
        var r = TesseraProcess.Run("ocr", Sample, "--det-only");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = Lines(r.Stdout);
        Assert.Equal(3, lines.Length);
        // "x,y x,y x,y x,y  score"
        Assert.All(lines, l => Assert.Equal(5, l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length));
    }

    [Theory]
    [InlineData("--beam", "0", "BeamWidth")]
    [InlineData("--preprocess", "gray,sharpen:3", "sharpen")]
    [InlineData("--preprocess", "median:4", "median")]
    [InlineData("--lang", "xx", "available: ch")]
    [InlineData("--dict", "no-such-dict.txt", "no-such-dict.txt")]
    public void BadOptionsAreRefusedNamingThem(string option, string value, string named)
    {
        var r = TesseraProcess.Run("ocr", Sample, option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.Equal("", r.Stdout.Trim());
    }

    [Fact]
    public void MissingEmptyAndNonImageFilesAreRefusedNamingTheFile()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-cli-").FullName;
        try
        {
            string empty = Path.Combine(dir, "empty.png"), text = Path.Combine(dir, "notes.png"), missing = Path.Combine(dir, "missing.png");
            File.WriteAllBytes(empty, []);
            File.WriteAllText(text, "this is not an image");
            foreach (var file in new[] { missing, empty, text })
            {
                var r = TesseraProcess.Run("ocr", file);
                Assert.True(r.ExitCode == 1, $"{file}: exit {r.ExitCode}, stderr {r.Stderr}");
                Assert.Contains(Path.GetFileName(file), r.Stderr);
                Assert.DoesNotContain("   at ", r.Stderr); // a message, not a stack trace
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
