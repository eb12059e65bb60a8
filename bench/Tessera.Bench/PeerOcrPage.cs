using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models;
using Tessera.Models.Ocr;

namespace Tessera.Bench;

/// <summary>`peer ocr-page [--threads 1,2] [--rounds N] [--cls 1] [--beam 1] [--dir DIR] [--models DIR]`: whole-page OCR
/// with one OcrPipeline (Tessera's pre- and post-processing: detector resize, DB boxes, crops, batching, CTC decoding)
/// whose three networks are run (a) by Tessera and (b) by ONNX Runtime on the same ONNX files, passed in through the
/// pipeline's ITextDetector, IDirectionClassifier and ITextRecognizer. Pages: models/ppocr-v4/sample.png and a rendered
/// 20-line page (see <see cref="PeerOcrCer.RenderPage"/>; skipped without ImageMagick). Rounds interleave the engines,
/// alternating which goes first. One JSON line per page, thread count and engine with the median detection,
/// classification, recognition and total milliseconds (the pipeline's own stage timings), then one with the ratios
/// ONNX Runtime / Tessera and whether both read the same text.</summary>
public static class PeerOcrPage
{
    public static int Run(Args args)
    {
        int rounds = args.Int("rounds", 5), beam = args.Int("beam", 1);
        bool cls = args.Int("cls", 1) != 0;
        var threadCounts = args.Str("threads", "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        string models = args.Str("models", PeerPpOcrRec.FindModels());
        var pages = new List<(string Name, Image Image)> { ("sample", ImageDecoder.DecodeFile(Path.Combine(models, "sample.png"))) };
        if (PeerOcrCer.ToolsPresent())
            pages.Add(("page20", ImageDecoder.DecodeFile(PeerOcrCer.RenderPage(args.Str("dir", Path.Combine(Path.GetTempPath(), "tessera-ocr-cer"))).Path)));
        else Console.Error.WriteLine("ocr-page: without ImageMagick only sample.png is timed");
        var options = new OcrOptions { UseAngleClassifier = cls, BeamWidth = beam };
        var ci = CultureInfo.InvariantCulture;

        foreach (int threads in threadCounts)
        {
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
            using var tessera = OcrPipeline.Load(models, cpu, options);
            using var ort = new OcrPipeline(cpu, options,
                new OrtRecognizer(cpu, Path.Combine(models, OcrPipeline.RecognizerFile), Path.Combine(models, OcrPipeline.DictionaryFile), threads),
                new OrtDetector(cpu, Path.Combine(models, OcrPipeline.DetectorFile), threads),
                cls ? new OrtClassifier(cpu, Path.Combine(models, OcrPipeline.ClassifierFile), threads) : null);
            var engines = new (string Name, OcrPipeline Pipe)[] { ("tessera", tessera), ("onnxruntime", ort) };
            foreach (var (page, image) in pages)
            {
                var text = new Dictionary<string, string>();
                foreach (var (name, pipe) in engines)
                    for (int i = 0; i < 2; i++) text[name] = string.Join("\n", pipe.Run(image).Lines.Select(l => l.Text)); // JIT, packing, arenas
                var timings = engines.ToDictionary(e => e.Name, _ => new List<OcrTimings>());
                for (int r = 0; r < rounds; r++)
                    for (int k = 0; k < engines.Length; k++)
                    {
                        var (name, pipe) = engines[(k + r) % engines.Length];
                        timings[name].Add(pipe.Run(image).Timings);
                    }
                var med = new Dictionary<string, double[]>();
                foreach (var (name, _) in engines)
                {
                    var t = timings[name];
                    med[name] = [Median(t.Select(x => x.DetectionMs)), Median(t.Select(x => x.ClassificationMs)),
                        Median(t.Select(x => x.RecognitionMs)), Median(t.Select(x => x.TotalMs))];
                    Console.WriteLine(string.Create(ci,
                        $"{{\"suite\":\"ocr-page\",\"page\":\"{page}\",\"size\":\"{image.Width}x{image.Height}\",\"engine\":\"{name}\",\"threads\":{threads},\"rounds\":{rounds},\"cls\":{(cls ? "true" : "false")},\"lines\":{text[name].Split('\n').Length},\"det_ms\":{med[name][0]:F1},\"cls_ms\":{med[name][1]:F1},\"rec_ms\":{med[name][2]:F1},\"total_ms\":{med[name][3]:F1}}}"));
                }
                double Ratio(int i) => med["onnxruntime"][i] / Math.Max(1e-9, med["tessera"][i]);
                Console.WriteLine(string.Create(ci,
                    $"{{\"suite\":\"ocr-page\",\"page\":\"{page}\",\"threads\":{threads},\"ort_over_tessera\":{{\"det\":{Ratio(0):F3},\"cls\":{(cls ? Ratio(1) : 0):F3},\"rec\":{Ratio(2):F3},\"total\":{Ratio(3):F3}}},\"same_text\":{(text["tessera"] == text["onnxruntime"] ? "true" : "false")}}}"));
            }
        }
        return 0;
    }

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.OrderBy(x => x).ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    // One ONNX Runtime session on one input, run on a Tessera tensor's values and returning a Tessera tensor; the two
    // host copies are counted against ONNX Runtime (a few MB at most, small beside the networks).
    private sealed class OrtNet : IDisposable
    {
        private readonly IBackend _backend;
        private readonly InferenceSession _session;
        private readonly RunOptions _run = new();

        public OrtNet(IBackend backend, string path, int threads)
        {
            _backend = backend;
            using var opts = new SessionOptions
            {
                IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            _session = new InferenceSession(path, opts);
        }

        public Tensor Run(Tensor x)
        {
            using var xv = OrtValue.CreateTensorValueFromMemory(x.ToFloatArray(), x.Shape.Dims.ToArray().Select(d => (long)d).ToArray());
            var inputs = new Dictionary<string, OrtValue> { [_session.InputNames[0]] = xv };
            using var outs = _session.Run(_run, inputs, _session.OutputNames);
            var dims = outs[0].GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray();
            return Tensor.FromArray(_backend, outs[0].GetTensorDataAsSpan<float>().ToArray(), dims);
        }

        public void Dispose()
        {
            _session.Dispose();
            _run.Dispose();
        }
    }

    internal sealed class OrtDetector(IBackend backend, string path, int threads) : ITextDetector
    {
        private readonly OrtNet _net = new(backend, path, threads);
        public Tensor Forward(Tensor image) => _net.Run(image);
        public void Dispose() => _net.Dispose();
    }

    internal sealed class OrtClassifier(IBackend backend, string path, int threads) : IDirectionClassifier
    {
        private readonly OrtNet _net = new(backend, path, threads);
        public Tensor Forward(Tensor batch) => _net.Run(batch);
        public void Dispose() => _net.Dispose();
    }

    internal sealed class OrtRecognizer(IBackend backend, string path, string dictionary, int threads) : ITextRecognizer
    {
        private readonly OrtNet _net = new(backend, path, threads);
        public IReadOnlyList<string> Characters { get; } = PpOcrRecognizer.ReadDictionary(dictionary);
        public int ImageHeight => PpOcrRecConfig.ChPpOcrV4.ImageHeight;
        public int MinImageWidth => PpOcrRecConfig.ChPpOcrV4.MinImageWidth;
        public Tensor Forward(Tensor batch) => _net.Run(batch);
        public void Dispose() => _net.Dispose();
    }
}
