using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Cpu;
using Tessera.Formats.Images;
using Tessera.Models.Ocr;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera ocr IMAGE... [--json] [--det-only] [--rec-only] [--cls] [--models DIR] [--threads N]</c>:
/// reads the text of PNG, JPEG or BMP images with the PP-OCRv4 pipeline, printing one line of text per detected
/// line (under a header naming the file when there are several images), or with <c>--json</c> the boxes, text,
/// confidences and timings. The models come from <c>models/ppocr-v4</c>, searched for upward from the current
/// directory and from the executable's, unless <c>--models</c> names a directory.</summary>
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
        var cmd = new Command("ocr", "Read the text of images (PP-OCRv4: detection, direction, recognition)")
        {
            images, json, detOnly, recOnly, cls, models, threads,
        };
        cmd.SetAction(pr => InspectCommand.Guard("ocr", () =>
        {
            var options = new OcrOptions
            {
                DetectionOnly = pr.GetValue(detOnly),
                RecognitionOnly = pr.GetValue(recOnly),
                UseAngleClassifier = pr.GetValue(cls),
            };
            string dir = pr.GetValue(models) ?? FindModels()
                ?? throw new TesseraException($"cannot find {ModelsSubdir} above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}; pass --models DIR");
            int n = pr.GetValue(threads);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: n > 0 ? n : Environment.ProcessorCount));
            return Run(pr.GetValue(images)!, dir, options, cpu, pr.GetValue(json), Console.Out);
        }));
        return cmd;
    }

    /// <summary>Runs the pipeline over the files and prints the results; 0 on success.</summary>
    internal static int Run(IReadOnlyList<string> files, string modelDir, OcrOptions options, IBackend backend, bool json, TextWriter output)
    {
        using var pipeline = OcrPipeline.Load(modelDir, backend, options);
        var reports = new List<OcrImageReport>();
        foreach (var file in files)
        {
            var image = ImageDecoder.DecodeFile(file);
            var result = pipeline.Run(image);
            if (json)
            {
                reports.Add(new OcrImageReport(file, image.Width, image.Height,
                    result.Lines.Select(l => new OcrLineReport(l.Text, Math.Round(l.Confidence, 4),
                        l.Box.Select(p => new[] { p.X, p.Y }).ToArray())).ToArray(),
                    new OcrTimingsReport(Ms(result.Timings.DetectionMs), Ms(result.Timings.ClassificationMs),
                        Ms(result.Timings.RecognitionMs), Ms(result.Timings.TotalMs))));
                continue;
            }
            if (files.Count > 1) output.WriteLine($"==> {file} <==");
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

/// <summary>One image's lines and timings.</summary>
internal sealed record OcrImageReport(string file, int width, int height, OcrLineReport[] lines, OcrTimingsReport timings_ms);

/// <summary>One line: its text, confidence and box (4 [x, y] corners, top-left first, clockwise).</summary>
internal sealed record OcrLineReport(string text, double confidence, float[][] box);

/// <summary>Per-stage milliseconds.</summary>
internal sealed record OcrTimingsReport(double det, double cls, double rec, double total);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON for <c>tessera ocr</c> (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(OcrReport))]
internal sealed partial class OcrJsonContext : JsonSerializerContext;
