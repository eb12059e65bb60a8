using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>A cancelled OCR run: the pipeline checks its token between stages and between batches, throws
/// <see cref="OperationCanceledException"/>, and every tensor handed to or returned by a model is disposed. The
/// models are stand-ins that record what they saw and cancel the run from inside a stage, so the test knows exactly
/// where the cancellation landed.</summary>
public sealed class OcrCancellationTests : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 1));
    private readonly Image _sample = ImageDecoder.DecodeFile(OcrRecFixture.Sample);

    public void Dispose() => _cpu.Dispose();

    /// <summary>Records the tensors passed in and returned; cancels <paramref name="cts"/> on call <paramref name="cancelOn"/>.</summary>
    private sealed class Recorder(CancellationTokenSource cts, int cancelOn)
    {
        public List<Tensor> Seen { get; } = [];
        public int Calls { get; private set; }

        public Tensor Record(Tensor input, Tensor output)
        {
            Seen.Add(input);
            Seen.Add(output);
            if (++Calls == cancelOn) cts.Cancel();
            return output;
        }
    }

    private sealed class Detector(IBackend backend, Recorder rec) : ITextDetector
    {
        private readonly InkBandDetector _ink = new(backend);
        public Tensor Forward(Tensor image) => rec.Record(image, _ink.Forward(image));
        public void Dispose() { }
    }

    private sealed class Recognizer(IBackend backend, Recorder rec) : ITextRecognizer
    {
        public IReadOnlyList<string> Characters { get; } = ["", "a", " "];
        public int ImageHeight => 48;
        public int MinImageWidth => 64;

        public Tensor Forward(Tensor batch)
        {
            int b = batch.Shape[0], t = batch.Shape[3] / 8;
            var p = new float[b * t * 3];
            for (int i = 0; i < b * t; i++) p[3 * i + 1] = 1f;   // "a" at every step: "a" after merging repeats
            return rec.Record(batch, Tensor.FromArray(backend, p, b, t, 3));
        }

        public void Dispose() { }
    }

    private sealed class Classifier(IBackend backend, Recorder rec) : IDirectionClassifier
    {
        public Tensor Forward(Tensor batch)
        {
            var p = new float[2 * batch.Shape[0]];
            for (int i = 0; i < batch.Shape[0]; i++) p[2 * i] = 1f;
            return rec.Record(batch, Tensor.FromArray(backend, p, batch.Shape[0], 2));
        }

        public void Dispose() { }
    }

    private (OcrPipeline Pipeline, Recorder Det, Recorder Cls, Recorder Rec) Make(CancellationTokenSource cts, int detCancel, int clsCancel, int recCancel)
    {
        Recorder det = new(cts, detCancel), cls = new(cts, clsCancel), rec = new(cts, recCancel);
        var p = new OcrPipeline(_cpu, new OcrOptions { RecBatchSize = 1, ClsBatchSize = 1, UseAngleClassifier = true },
            new Recognizer(_cpu, rec), new Detector(_cpu, det), new Classifier(_cpu, cls));
        return (p, det, cls, rec);
    }

    private static void AllDisposed(params Recorder[] recorders) =>
        Assert.All(recorders.SelectMany(r => r.Seen), t => Assert.True(t.IsDisposed, $"a {t.Shape} tensor was left undisposed"));

    [Fact]
    public void An_uncancelled_run_reads_every_line()
    {
        using var cts = new CancellationTokenSource();
        var (p, det, cls, rec) = Make(cts, 0, 0, 0);
        using var _ = p;
        var r = p.Run(_sample, cts.Token);
        Assert.Equal(OcrRecFixture.Expected.Length, r.Lines.Count);
        Assert.All(r.Lines, l => Assert.Equal("a", l.Text));
        Assert.Equal((1, 3, 3), (det.Calls, cls.Calls, rec.Calls));
        AllDisposed(det, cls, rec);
    }

    [Fact]
    public void A_token_cancelled_before_the_call_runs_nothing()
    {
        using var cts = new CancellationTokenSource();
        var (p, det, cls, rec) = Make(cts, 0, 0, 0);
        using var _ = p;
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => p.Run(_sample, cts.Token));
        Assert.Equal((0, 0, 0), (det.Calls, cls.Calls, rec.Calls));
    }

    [Theory]
    [InlineData(1, 0, 0, 1, 0, 0)]   // cancelled during detection: no crop is classified
    [InlineData(0, 2, 0, 1, 2, 0)]   // during the second classifier batch: recognition never starts
    [InlineData(0, 0, 1, 1, 3, 1)]   // during the first recogniser batch: the other two lines are not run
    public void A_run_cancelled_in_a_stage_stops_at_the_next_check_and_leaks_nothing(int detCancel, int clsCancel, int recCancel,
        int detCalls, int clsCalls, int recCalls)
    {
        using var cts = new CancellationTokenSource();
        var (p, det, cls, rec) = Make(cts, detCancel, clsCancel, recCancel);
        using var _ = p;
        Assert.Throws<OperationCanceledException>(() => p.Run(_sample, cts.Token));
        Assert.Equal((detCalls, clsCalls, recCalls), (det.Calls, cls.Calls, rec.Calls));
        AllDisposed(det, cls, rec);
    }
}
