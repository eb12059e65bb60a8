using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>A stand-in for the DB detector on clean printed pages: it finds the bands of rows holding dark ink in the
/// normalised input, and marks each band's ink extent shrunk so that DB's unclip (ratio 1.5) grows it back to the ink
/// plus a 3-pixel margin, as a trained DB map does for clean text. Lets the whole pipeline but the detector network run
/// before the real detector is merged.</summary>
public sealed class InkBandDetector(IBackend backend) : ITextDetector
{
    public Tensor Forward(Tensor image)
    {
        int h = image.Shape[2], w = image.Shape[3], plane = h * w;
        var x = image.ToFloatArray();
        bool Ink(int i) => x[i] < 0 && x[plane + i] < 0 && x[2 * plane + i] < 0;
        var map = new float[plane];
        int y = 0;
        while (y < h)
        {
            bool RowInk(int r) { for (int c = 0; c < w; c++) if (Ink(r * w + c)) return true; return false; }
            if (!RowInk(y)) { y++; continue; }
            int y0 = y;
            while (y < h && RowInk(y)) y++;
            int y1 = y - 1, x0 = w, x1 = -1;
            for (int r = y0; r <= y1; r++)
                for (int c = 0; c < w; c++)
                    if (Ink(r * w + c)) { x0 = Math.Min(x0, c); x1 = Math.Max(x1, c); }
            // The target: the ink's extent plus a 3-pixel margin, W x H. Shrink it by s such that DB's unclip of
            // the shrunk w x h rectangle (by w h 1.5 / (2 (w + h))) gives s back; bisection, since that grows with s.
            double bw = x1 - x0 + 6, bh = y1 - y0 + 6, lo = 0, hi = Math.Min(bw, bh) / 2;
            for (int it = 0; it < 60; it++)
            {
                double s = (lo + hi) / 2, sw = bw - 2 * s, sh = bh - 2 * s;
                if (sw * sh * 1.5 / (2 * (sw + sh)) > s) lo = s; else hi = s;
            }
            double d = lo - 3;
            for (int r = (int)Math.Ceiling(y0 + d); r <= y1 - d; r++)
                for (int c = (int)Math.Ceiling(x0 + d); c <= x1 - d; c++)
                    map[r * w + c] = 0.95f;
        }
        return Tensor.FromArray(backend, map, 1, 1, h, w);
    }

    public void Dispose() { }
}

/// <summary>The recogniser, loaded once for the pipeline tests.</summary>
public sealed class OcrRecFixture : IDisposable
{
    public CpuBackend Cpu { get; } = new(new CpuBackendOptions(Threads: 2));
    public PpOcrRecognizer Rec { get; }

    public OcrRecFixture() => Rec = PpOcrRecognizer.Load(ModelFiles.Rec, ModelFiles.Keys, Cpu);

    public static string Sample => Path.Combine(Path.GetDirectoryName(ModelFiles.Rec)!, "sample.png");

    public static string[] Expected => File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ModelFiles.Rec)!, "sample.expected.txt"))
        .Where(l => l.Length > 0).ToArray();

    public void Dispose()
    {
        Rec.Dispose();
        Cpu.Dispose();
    }
}

/// <summary>The pipeline with the real recogniser on the bundled sample, the detector stood in for by
/// <see cref="InkBandDetector"/>.</summary>
public sealed class OcrPipelineTests(OcrRecFixture f, ITestOutputHelper log) : IClassFixture<OcrRecFixture>
{
    private OcrPipeline Pipeline(OcrOptions o) => new(f.Cpu, o, f.Rec, new InkBandDetector(f.Cpu), ownsModels: false);

    [Fact]
    public void Sample_ReadsItsExpectedLines_InOrder()
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        using var p = Pipeline(new OcrOptions());
        var r = p.Run(img);
        foreach (var l in r.Lines) log.WriteLine($"{l.Confidence:F3} [{string.Join(" ", l.Box.Select(q => $"({q.X},{q.Y})"))}] {l.Text}");
        log.WriteLine($"det {r.Timings.DetectionMs:F0} ms, rec {r.Timings.RecognitionMs:F0} ms, total {r.Timings.TotalMs:F0} ms");
        Assert.Equal(OcrRecFixture.Expected, r.Lines.Select(l => l.Text).ToArray());
        Assert.All(r.Lines, l => Assert.InRange(l.Confidence, 0.8f, 1f));
        // Boxes: inside the image, top-left first and clockwise, lines top to bottom.
        Assert.All(r.Lines, l =>
        {
            Assert.All(l.Box, q => { Assert.InRange(q.X, 0, img.Width - 1); Assert.InRange(q.Y, 0, img.Height - 1); });
            Assert.True(l.Box[0].X < l.Box[1].X && l.Box[1].Y < l.Box[2].Y && l.Box[3].X < l.Box[2].X);
        });
        for (int i = 1; i < r.Lines.Count; i++) Assert.True(r.Lines[i].Box[0].Y > r.Lines[i - 1].Box[0].Y);
    }

    [Fact]
    public void SmallBatches_GiveTheSameText()
    {
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        using var p = Pipeline(new OcrOptions { RecBatchSize = 1 });
        Assert.Equal(OcrRecFixture.Expected, p.Run(img).Lines.Select(l => l.Text).ToArray());
    }

    [Fact]
    public void DetectionOnly_GivesBoxesWithoutText()
    {
        using var p = Pipeline(new OcrOptions { DetectionOnly = true });
        var r = p.Run(ImageDecoder.DecodeFile(OcrRecFixture.Sample));
        Assert.Equal(OcrRecFixture.Expected.Length, r.Lines.Count);
        Assert.All(r.Lines, l => { Assert.Equal("", l.Text); Assert.Equal(4, l.Box.Count); });
        Assert.Equal(0, r.Timings.RecognitionMs);
    }

    [Fact]
    public void RecognitionOnly_ReadsTheWholeImageAsOneLine()
    {
        // The sample's first line, cut out by hand (x 10..449, y 25..69).
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        int w = 440, h = 45;
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++) Array.Copy(img.Pixels, ((y + 25) * img.Width + 10) * 3, px, y * w * 3, w * 3);
        using var p = new OcrPipeline(f.Cpu, new OcrOptions { RecognitionOnly = true }, f.Rec, null, ownsModels: false);
        var l = Assert.Single(p.Run(new Image(px, w, h)).Lines);
        Assert.Equal(OcrRecFixture.Expected[0], l.Text);
        Assert.Equal(new OcrPoint(w, h), l.Box[2]);
    }

    [Fact]
    public void UpsideDownCrops_AreTurnedByTheClassifier()
    {
        // A classifier that calls every crop upside down, sure of it: the pipeline turns each crop before
        // recognition, so an upside-down page reads correctly.
        var img = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        var flipped = OcrImageOps.Rotate180(new Image(img.Pixels, img.Width, img.Height, 3));
        using var p = new OcrPipeline(f.Cpu, new OcrOptions { UseAngleClassifier = true }, f.Rec, new InkBandDetector(f.Cpu),
            new AlwaysUpsideDown(f.Cpu), ownsModels: false);
        Assert.Equal(OcrRecFixture.Expected.Reverse().ToArray(), p.Run(flipped).Lines.Select(l => l.Text).ToArray());
    }

    [Fact]
    public void ConflictingOptions_AreRefused()
    {
        var e = Assert.Throws<TesseraException>(() => new OcrPipeline(f.Cpu, new OcrOptions { DetectionOnly = true, RecognitionOnly = true }, f.Rec, null));
        Assert.Contains("cannot both", e.Message);
    }

    private sealed class AlwaysUpsideDown(IBackend backend) : IDirectionClassifier
    {
        public Tensor Forward(Tensor batch)
        {
            int n = batch.Shape[0];
            var p = new float[2 * n];
            for (int i = 0; i < n; i++) { p[2 * i] = 0.02f; p[2 * i + 1] = 0.98f; }
            return Tensor.FromArray(backend, p, n, 2);
        }

        public void Dispose() { }
    }
}
