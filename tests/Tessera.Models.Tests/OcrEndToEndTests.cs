using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>The whole pipeline with the real PP-OCRv4 detector, direction classifier and recogniser on the bundled
/// sample. Every character must be read, in reading order, with its spaces: the Chinese PP-OCRv4 recogniser drops
/// some of them on tight English crops (the upright sample loses the spaces of its first line), and
/// <see cref="WordSpacing"/> puts them back from the CTC alignment. The networks themselves match ONNX Runtime to an nmse of
/// 1e-12 (PpOcrRecognizerTests, PpOcrDetectorTests), so this is the model's reading, not a numerical error.</summary>
public sealed class OcrEndToEndTests(ITestOutputHelper log)
{

    private static string ModelDir => Path.GetDirectoryName(ModelFiles.Rec)!;

    private string[] Read(Image img, OcrOptions options)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var pipeline = OcrPipeline.Load(ModelDir, cpu, options);
        var r = pipeline.Run(img);
        foreach (var l in r.Lines) log.WriteLine($"{l.Confidence:F3} [{string.Join(" ", l.Box.Select(q => $"({q.X},{q.Y})"))}] {l.Text}");
        log.WriteLine($"det {r.Timings.DetectionMs:F0} ms, cls {r.Timings.ClassificationMs:F0} ms, rec {r.Timings.RecognitionMs:F0} ms, total {r.Timings.TotalMs:F0} ms");
        return r.Lines.Select(l => l.Text).ToArray();
    }

    [Fact]
    public void Sample_ReadsItsExpectedText()
    {
        var got = Read(ImageDecoder.DecodeFile(OcrRecFixture.Sample), new OcrOptions());
        // Spaces included: word spacing from the CTC alignment restores those the recogniser drops.
        Assert.Equal(OcrRecFixture.Expected, got);
    }

    [Fact]
    public void UpsideDownSample_IsTurnedByTheClassifier()
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        var turned = OcrImageOps.Rotate180(new Image(img.Pixels, img.Width, img.Height, 3));
        var flipped = new Image(turned.Pixels, img.Width, img.Height);
        Assert.Equal(OcrRecFixture.Expected.Reverse().ToArray(), Read(flipped, new OcrOptions { UseAngleClassifier = true }));
    }
}
