using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Imaging;

/// <summary>The spec parser (operations, parameters, defaults, errors that name the culprit), the pipeline's channel
/// rule, and OCR of the bundled sample after preprocessing.</summary>
public sealed class ImagePreprocessorTests(ITestOutputHelper log)
{
    [Fact]
    public void Parse_ReadsEveryOperationInOrder()
    {
        var p = ImagePreprocessor.Parse("gray,median:3,gaussian:1.2,bilateral:9:75:75,clahe:2.0:8,sauvola:25:0.2,deskew:15");
        Assert.Equal<IImageOperation>(
            [new Grayscale(), new MedianFilter(3), new GaussianBlur(1.2), new BilateralFilter(9, 75, 75), new Clahe(2.0, 8, 8),
             new SauvolaBinarization(25, 0.2, 128), new Deskew(15)],
            p.Operations);
        Assert.Equal(p.Operations, ImagePreprocessor.Parse(p.Spec).Operations);
    }

    [Fact]
    public void Parse_FillsDefaults_AndReadsGrids()
    {
        var p = ImagePreprocessor.Parse(" median , gaussian , bilateral:5 , clahe:3:4x2 , sauvola:15 , deskew , GRAY ");
        Assert.Equal<IImageOperation>(
            [new MedianFilter(3), new GaussianBlur(1), new BilateralFilter(5, 75, 75), new Clahe(3, 4, 2),
             new SauvolaBinarization(15, 0.2, 128), new Deskew(15), new Grayscale()],
            p.Operations);
    }

    [Theory]
    [InlineData("blur:3", "blur")]
    [InlineData("median:4", "median:4")]
    [InlineData("median:x", "window")]
    [InlineData("median:3.5", "window")]
    [InlineData("gaussian:1:2:3", "at most 2")]
    [InlineData("gaussian:-1", "sigma")]
    [InlineData("gaussian:1:4", "odd")]
    [InlineData("gaussian:abc", "sigma must be a number")]
    [InlineData("clahe:2:8x", "tile grid")]
    [InlineData("clahe:2:0", "tile grid")]
    [InlineData("sauvola:24", "window")]
    [InlineData("sauvola:25:0.2:0", "R must be positive")]
    [InlineData("deskew:60", "0 to 45")]
    [InlineData("gray:1", "at most 0")]
    [InlineData("median:3,,gray", "empty")]
    [InlineData("", "empty")]
    public void Parse_RejectsBadSpecs_NamingTheProblem(string spec, string named)
    {
        var e = Assert.Throws<TesseraException>(() => ImagePreprocessor.Parse(spec));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void Apply_KeepsTheInputsChannels_AndReportsTheAngle()
    {
        var page = DeskewTests.Rotate(DeskewTests.Page(), 5);
        var r = ImagePreprocessor.Parse("gray,sauvola:31,deskew:10").Apply(page);
        Assert.Equal(3, r.Image.Channels);
        Assert.NotNull(r.DeskewAngle);
        Assert.True(Math.Abs(r.DeskewAngle!.Value - 5) < 0.3, $"angle {r.DeskewAngle}");
        for (int i = 0; i < r.Image.Pixels.Length; i += 3)
            Assert.True(r.Image.Pixels[i] == r.Image.Pixels[i + 1] && r.Image.Pixels[i] == r.Image.Pixels[i + 2]);
        Assert.Null(ImagePreprocessor.Parse("median:3").Apply(page).DeskewAngle);
    }

    private string[] Read(Image img)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var pipeline = OcrPipeline.Load(Path.GetDirectoryName(ModelFiles.Rec)!, cpu, new OcrOptions());
        var lines = pipeline.Run(img).Lines.Select(l => l.Text).ToArray();
        log.WriteLine(string.Join(" | ", lines));
        return lines;
    }

    private static string NoSpaces(string s) => s.Replace(" ", "");

    [Theory]
    [InlineData("gray,median:3,clahe:2:8")]
    [InlineData("gaussian:0.8,bilateral:9:75:75")]
    [InlineData("gray,sauvola:25:0.2")]
    public void Ocr_StillReadsTheSample_AfterPreprocessing(string spec)
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        var r = ImagePreprocessor.Parse(spec).Apply(new Image(img.Pixels, img.Width, img.Height, 3));
        Assert.Equal(OcrRecFixture.Expected.Select(NoSpaces), Read(r.Image).Select(NoSpaces));
    }

    [Fact]
    public void Ocr_ReadsATurnedSample_AfterDeskew()
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        var turned = DeskewTests.Rotate(new Image(img.Pixels, img.Width, img.Height, 3), 3.0);
        var r = ImagePreprocessor.Parse("deskew:10").Apply(turned);
        Assert.True(Math.Abs(r.DeskewAngle!.Value - 3.0) < 0.3, $"angle {r.DeskewAngle}");
        Assert.Equal(OcrRecFixture.Expected.Select(NoSpaces), Read(r.Image).Select(NoSpaces));
    }
}
