using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models;
using Tessera.Models.Ocr;
using Tessera.Models.Ocr.Layout;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera ocr IMAGE... [--json] [--det-only] [--rec-only] [--cls] [--beam W] [--spaces auto|model|off]
/// [--layout auto|single-line|single-block|sparse] [--preprocess SPEC]
/// [--models DIR] [--threads N]</c>: reads the text of PNG, JPEG or BMP images with the PP-OCRv4 pipeline, printing one line of text per detected
/// line (under a header naming the file when there are several images), or with <c>--json</c> the boxes, text,
/// confidences and timings. The models come from <c>models/ppocr-v4</c>, searched for upward from the current
/// directory and from the executable's, unless <c>--models</c> names a directory. <c>--preprocess</c> runs image
/// operations (<see cref="ImagePreprocessor"/>: filters, CLAHE, binarisation, deskew) on each image before the
/// pipeline; boxes are then in the preprocessed image's coordinates (deskew turns the image, keeping its size).</summary>
internal static class OcrCommand
{
    /// <summary>The models directory searched for, relative to some ancestor directory.</summary>
    internal const string ModelsSubdir = "models/ppocr-v4";

    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "PNG, JPEG or BMP files", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "print one JSON object: per image, its lines' boxes, text and confidence, and timings" };
        var detOnly = new Option<bool>("--det-only") { Description = "only detect text boxes" };
        var recOnly = new Option<bool>("--rec-only") { Description = "only recognise: each image is one text line" };
        var cls = new Option<bool>("--cls") { Description = "classify each line's direction and turn upside-down lines" };
        var models = new Option<string?>("--models") { Description = $"the PP-OCR model directory (default: {ModelsSubdir} above the current directory or the executable)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var beam = new Option<int>("--beam") { Description = "CTC decoding: 1 is greedy (the default), W > 1 a prefix beam search of width W", DefaultValueFactory = _ => 1 };
        var preprocess = new Option<string?>("--preprocess")
        {
            Description = "image operations run in order before OCR, comma-separated, parameters after colons, "
                + "e.g. gray,median:3,clahe:2:8,deskew:15. Operations:\n" + ImagePreprocessor.Help,
        };
        var spaces = new Option<string>("--spaces")
        {
            Description = "word spaces: auto (the default) adds the spaces found from the CTC alignment on Latin-script lines to the "
                + "recogniser's own; model keeps only the recogniser's; off removes them",
            DefaultValueFactory = _ => "auto",
        };
        spaces.AcceptOnlyFromAmong("auto", "model", "off");
        var layout = new Option<string>("--layout")
        {
            Description = "page segmentation: auto (the default) finds blocks and columns by XY-Cut; single-line reads each image "
                + "as one line (as --rec-only); single-block one block top to bottom; sparse each line its own block",
            DefaultValueFactory = _ => "auto",
        };
        layout.AcceptOnlyFromAmong("auto", "single-line", "single-block", "sparse");
        var cmd = new Command("ocr", "Read the text of images (PP-OCRv4: detection, direction, recognition)")
        {
            images, json, detOnly, recOnly, cls, beam, spaces, layout, preprocess, models, threads,
        };
        cmd.SetAction(pr => InspectCommand.Guard("ocr", () =>
        {
            var options = new OcrOptions
            {
                DetectionOnly = pr.GetValue(detOnly),
                RecognitionOnly = pr.GetValue(recOnly),
                UseAngleClassifier = pr.GetValue(cls),
                BeamWidth = pr.GetValue(beam),
                Spacing = pr.GetValue(spaces) switch { "model" => SpacingMode.Model, "off" => SpacingMode.Off, _ => SpacingMode.Auto },
                Layout = pr.GetValue(layout) switch
                {
                    "single-line" => LayoutMode.SingleLine,
                    "single-block" => LayoutMode.SingleBlock,
                    "sparse" => LayoutMode.Sparse,
                    _ => LayoutMode.Auto,
                },
            };
            string dir = pr.GetValue(models) ?? FindModels()
                ?? throw new TesseraException($"cannot find {ModelsSubdir} above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}; pass --models DIR");
            // Parse before loading the models, so that a bad spec fails fast.
            var pre = pr.GetValue(preprocess) is { } spec ? ImagePreprocessor.Parse(spec) : null;
            int n = pr.GetValue(threads);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: n > 0 ? n : Environment.ProcessorCount));
            return Run(pr.GetValue(images)!, dir, options, cpu, pr.GetValue(json), Console.Out, pre);
        }));
        return cmd;
    }

    /// <summary>Runs the pipeline over the files (each first through <paramref name="preprocessor"/> when there is one)
    /// and prints the results; 0 on success.</summary>
    internal static int Run(IReadOnlyList<string> files, string modelDir, OcrOptions options, IBackend backend, bool json, TextWriter output,
        ImagePreprocessor? preprocessor = null)
    {
        using var pipeline = OcrPipeline.Load(modelDir, backend, options);
        var reports = new List<OcrImageReport>();
        foreach (var file in files)
        {
            var decoded = ImageDecoder.DecodeFile(file);
            var image = new Image(decoded.Pixels, decoded.Width, decoded.Height, 3, Bgr: false);
            // The preprocessor keeps the image's 3 channels (a gray result is copied into each), as the networks need.
            var pre = preprocessor?.Apply(image);
            var result = pipeline.Run(pre?.Image ?? image);
            double preMs = pre?.ElapsedMs ?? 0;
            double? angle = pre?.DeskewAngle is { } a ? Math.Round(a, 2) : null;
            if (json)
            {
                reports.Add(new OcrImageReport(file, image.Width, image.Height, angle,
                    result.Lines.Select(l => new OcrLineReport(l.Text, Math.Round(l.Confidence, 4),
                        l.Box.Select(p => new[] { p.X, p.Y }).ToArray())).ToArray(),
                    new OcrTimingsReport(Ms(preMs), Ms(result.Timings.DetectionMs), Ms(result.Timings.ClassificationMs),
                        Ms(result.Timings.RecognitionMs), Ms(preMs + result.Timings.TotalMs))));
                continue;
            }
            if (files.Count > 1) output.WriteLine($"==> {file} <==");
            // On stderr, so that stdout stays one line of text per detected line.
            if (angle is { } deg) Console.Error.WriteLine($"{file}: deskewed by {deg.ToString(System.Globalization.CultureInfo.InvariantCulture)} degrees");
            foreach (var line in result.Lines)
                output.WriteLine(options.DetectionOnly
                    ? $"{string.Join(' ', line.Box.Select(p => $"{p.X},{p.Y}"))}  {line.Confidence:F3}"
                    : line.Text);
        }
        if (json) output.WriteLine(JsonSerializer.Serialize(new OcrReport(reports.ToArray()), Json.OcrReport));
        return 0;
    }

    private static double Ms(double ms) => Math.Round(ms, 2);

    /// <summary>The first <see cref="ModelsSubdir"/> holding the recogniser, looking upward from the current
    /// directory and then from the executable's directory; null when there is none.</summary>
    internal static string? FindModels()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, ModelsSubdir);
                if (File.Exists(Path.Combine(p, OcrPipeline.RecognizerFile))) return p;
            }
        return null;
    }

    // Recognised text is often not ASCII (the model reads Chinese): print it as it is.
    private static readonly OcrJsonContext Json = new(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}

#pragma warning disable IDE1006 // JSON field names are snake_case keys
/// <summary>What <c>tessera ocr --json</c> prints.</summary>
internal sealed record OcrReport(OcrImageReport[] images);

/// <summary>One image's lines and timings; deskew_deg is the skew that --preprocess deskew found and undid
/// (counter-clockwise positive), null without deskew.</summary>
internal sealed record OcrImageReport(string file, int width, int height, double? deskew_deg, OcrLineReport[] lines, OcrTimingsReport timings_ms);

/// <summary>One line: its text, confidence and box (4 [x, y] corners, top-left first, clockwise).</summary>
internal sealed record OcrLineReport(string text, double confidence, float[][] box);

/// <summary>Per-stage milliseconds; total includes preprocessing.</summary>
internal sealed record OcrTimingsReport(double preprocess, double det, double cls, double rec, double total);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON for <c>tessera ocr</c> (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(OcrReport))]
internal sealed partial class OcrJsonContext : JsonSerializerContext;
