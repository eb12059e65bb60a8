using Tessera.Cpu;
using Tessera.Formats.Images;
using Tessera.Models.Ocr;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>The whole pipeline with the real PP-OCRv4 detector and direction classifier on the bundled sample.
/// Skipped until PpOcrDetector and PpOcrClassifier are merged and OcrModelLoaders calls them (see its summary):
/// then delete the Skip arguments.</summary>
public sealed class OcrEndToEndTests(ITestOutputHelper log)
{
    private const string Pending = "needs PpOcrDetector/PpOcrClassifier wired into OcrModelLoaders (remove this Skip after the merge)";

    private static string ModelDir => Path.GetDirectoryName(ModelFiles.Rec)!;

    private string[] Read(DecodedImage img, OcrOptions options)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var pipeline = OcrPipeline.Load(ModelDir, cpu, options);
        var r = pipeline.Run(img);
        foreach (var l in r.Lines) log.WriteLine($"{l.Confidence:F3} [{string.Join(" ", l.Box.Select(q => $"({q.X},{q.Y})"))}] {l.Text}");
        log.WriteLine($"det {r.Timings.DetectionMs:F0} ms, cls {r.Timings.ClassificationMs:F0} ms, rec {r.Timings.RecognitionMs:F0} ms, total {r.Timings.TotalMs:F0} ms");
        return r.Lines.Select(l => l.Text).ToArray();
    }

    [Fact(Skip = Pending)]
    public void Sample_ReadsItsExpectedText()
    {
        Assert.Equal(OcrRecFixture.Expected, Read(ImageDecoder.DecodeFile(OcrRecFixture.Sample), new OcrOptions()));
    }

    [Fact(Skip = Pending)]
    public void UpsideDownSample_IsTurnedByTheClassifier()
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        var turned = OcrImageOps.Rotate180(new LineImage(img.Pixels, img.Width, img.Height, 3));
        var flipped = new DecodedImage(turned.Pixels, img.Width, img.Height);
        Assert.Equal(OcrRecFixture.Expected.Reverse().ToArray(), Read(flipped, new OcrOptions { UseAngleClassifier = true }));
    }
}
