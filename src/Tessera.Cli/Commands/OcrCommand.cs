using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models;
using Tessera.Models.Ocr;
using Tessera.Models.Ocr.Layout;
using Tessera.Models.Ocr.Output;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera ocr IMAGE... [--format text|json|hocr|alto|tsv|pdf] [-o OUT] [--json] [--det-only] [--rec-only]
/// [--cls] [--beam W] [--spaces auto|model|off] [--layout auto|single-line|single-block|sparse] [--preprocess SPEC]
/// [--models DIR] [--lang NAME] [--dict FILE] [--threads N]</c>: reads the text of PNG, JPEG or BMP images
/// with the PP-OCRv4 pipeline and writes them as one document, a page per image in argument order: text (one line
/// per detected line, a blank line between blocks, a form feed line between pages), JSON (<c>--json</c> is
/// <c>--format json</c>: per image its blocks, lines and words with boxes and confidences, and timings), hOCR, ALTO,
/// TSV (as Tesseract writes them) or a searchable PDF (which needs <c>-o</c>). The output goes to stdout, or to the
/// file <c>-o</c> names. The models come from <c>models/ppocr-v4</c>, searched for upward from the current
/// directory and from the executable's, unless <c>--models</c> names a directory; <c>--lang</c> picks a recogniser
/// listed in the directory's <c>manifest.json</c> (<see cref="OcrModelManifest"/>). <c>--preprocess</c> runs image
/// operations (<see cref="ImagePreprocessor"/>: filters, CLAHE, binarisation, deskew) on each image before the
/// pipeline; boxes are then in the preprocessed image's coordinates (deskew turns the image, keeping its size).</summary>
internal static class OcrCommand
{
    /// <summary>The models directory searched for, relative to some ancestor directory.</summary>
    internal const string ModelsSubdir = "models/ppocr-v4";

    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "PNG, JPEG or BMP files", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "the same as --format json" };
        var format = new Option<string?>("--format")
        {
            Description = $"output format, {OcrOutputFormats.Names} (default text): text prints a line per detected line, a blank "
                + "line between blocks and a form feed line between pages; json blocks, lines and words with boxes, confidences and "
                + "timings; hocr, alto and tsv as Tesseract writes them; pdf the images with an invisible text layer (needs -o). "
                + "Several images make one document, a page each",
        };
        var outPath = new Option<string?>("--out", "-o") { Description = "write the output to this file instead of stdout" };
        var detOnly = new Option<bool>("--det-only") { Description = "only detect text boxes" };
        var recOnly = new Option<bool>("--rec-only") { Description = "only recognise: each image is one text line" };
        var cls = new Option<bool>("--cls") { Description = "classify each line's direction and turn upside-down lines" };
        var models = new Option<string?>("--models") { Description = $"the PP-OCR model directory (default: {ModelsSubdir} above the current directory or the executable)" };
        var lang = new Option<string?>("--lang")
        {
            Description = "the recogniser's language, as named in the model directory's manifest.json (default: its default_language); "
                + "other PP-OCR recognisers and dictionaries placed in the directory are listed there",
        };
        var dict = new Option<string?>("--dict") { Description = "a character dictionary to use instead of the language's (a path, or a file in the model directory)" };
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
            images, format, outPath, json, detOnly, recOnly, cls, beam, spaces, layout, preprocess, models, lang, dict, threads,
        };
        cmd.SetAction(pr => InspectCommand.Guard("ocr", () =>
        {
            var options = new OcrOptions
            {
                DetectionOnly = pr.GetValue(detOnly),
                RecognitionOnly = pr.GetValue(recOnly),
                UseAngleClassifier = pr.GetValue(cls),
                BeamWidth = pr.GetValue(beam),
                Language = pr.GetValue(lang),
                DictionaryPath = pr.GetValue(dict),
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
            var fmt = pr.GetValue(format) is { } f ? OcrOutputFormats.Parse(f) : pr.GetValue(json) ? OcrOutputFormat.Json : OcrOutputFormat.Text;
            if (pr.GetValue(json) && fmt != OcrOutputFormat.Json) throw new TesseraException($"--json and --format {pr.GetValue(format)} disagree: --json is --format json");
            int n = pr.GetValue(threads);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: n > 0 ? n : Environment.ProcessorCount));
            return Run(pr.GetValue(images)!, dir, options, cpu, fmt, pr.GetValue(outPath), Console.Out, pre);
        }));
        return cmd;
    }

    /// <summary>Runs the pipeline over the files (each first through <paramref name="preprocessor"/> when there is one)
    /// and writes them as one document in <paramref name="format"/> to <paramref name="outPath"/>, or to
    /// <paramref name="output"/> when it is null; 0 on success. The output file is created before the models load, so
    /// that an unwritable path fails at once, and removed again when the run fails.</summary>
    internal static int Run(IReadOnlyList<string> files, string modelDir, OcrOptions options, IBackend backend, OcrOutputFormat format,
        string? outPath, TextWriter output, ImagePreprocessor? preprocessor = null)
    {
        if (format == OcrOutputFormat.Pdf && outPath is null) throw new TesseraException("--format pdf writes a binary file: name it with -o FILE");
        using var file = outPath is null ? null : OpenOutput(outPath);
        try
        {
            using var pipeline = OcrPipeline.Load(modelDir, backend, options);
            var pages = new List<OcrPage>();
            var reports = new List<OcrImageReport>();
            foreach (var path in files)
            {
                var (image, pre) = Load(path, preprocessor);
                var result = pipeline.Run(pre?.Image ?? image);
                pages.Add(new OcrPage(path, result));
                // On stderr, so that stdout stays the document.
                if (pre?.DeskewAngle is { } deg && format != OcrOutputFormat.Json)
                    Console.Error.WriteLine($"{path}: deskewed by {Math.Round(deg, 2).ToString(System.Globalization.CultureInfo.InvariantCulture)} degrees");
                if (format == OcrOutputFormat.Json) reports.Add(OcrJsonReports.Image(path, image, pre, result));
            }
            var document = new OcrDocument(pages);
            if (format == OcrOutputFormat.Pdf)
            {
                // Images are read again one at a time rather than all held. A JPEG read as it is goes in as its own
                // bytes; otherwise the pixels OCR read (boxes are in the preprocessed image's pixels).
                SearchablePdfWriter.Write(document, i =>
                {
                    if (preprocessor is null && File.ReadAllBytes(files[i]) is var bytes && SearchablePdfImage.IsCarriableJpeg(bytes))
                        return SearchablePdfImage.FromJpeg(bytes);
                    var (img, pre) = Load(files[i], preprocessor);
                    return SearchablePdfImage.FromPixels(pre?.Image ?? img);
                }, file!);
                return 0;
            }
            var writer = file is null ? output : new StreamWriter(file, new System.Text.UTF8Encoding(false)) { NewLine = "\n" };
            Write(document, format, options, reports, writer);
            writer.Flush();
            return 0;
        }
        catch when (file is not null)
        {
            file.Dispose();
            File.Delete(outPath!);
            throw;
        }
    }

    private static void Write(OcrDocument document, OcrOutputFormat format, OcrOptions options, List<OcrImageReport> reports, TextWriter w)
    {
        switch (format)
        {
            case OcrOutputFormat.Json: w.WriteLine(JsonSerializer.Serialize(new OcrReport(reports.ToArray()), Json.OcrReport)); break;
            case OcrOutputFormat.Hocr: HocrWriter.Write(document, w); break;
            case OcrOutputFormat.Alto: AltoWriter.Write(document, w); break;
            case OcrOutputFormat.Tsv: TsvWriter.Write(document, w); break;
            case OcrOutputFormat.Text when options.DetectionOnly:
                // Boxes, not text: "x,y x,y x,y x,y  score" per line.
                foreach (var line in document.Pages.SelectMany(p => p.Result.Lines))
                    w.WriteLine($"{string.Join(' ', line.Box.Select(p => $"{p.X},{p.Y}"))}  {line.Confidence:F3}");
                break;
            default: OcrTextWriter.Write(document, w); break;
        }
    }

    private static (Image Image, PreprocessResult? Pre) Load(string path, ImagePreprocessor? preprocessor)
    {
        var decoded = ImageDecoder.DecodeFile(path);
        var image = new Image(decoded.Pixels, decoded.Width, decoded.Height, 3, Bgr: false);
        // The preprocessor keeps the image's 3 channels (a gray result is copied into each), as the networks need.
        return (image, preprocessor?.Apply(image));
    }

    private static FileStream OpenOutput(string path)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (Directory.Exists(full)) throw new TesseraException($"cannot write {path}: it is a directory");
        if (dir is not null && !Directory.Exists(dir)) throw new TesseraException($"cannot write {path}: directory {dir} does not exist");
        try { return new FileStream(full, FileMode.Create, FileAccess.Write); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TesseraException($"cannot write {path}: {e.Message}"); }
    }

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

/// <summary>One image's blocks of lines and words (in reading order), the same lines flattened (as before blocks
/// existed), and timings; deskew_deg is the skew that --preprocess deskew found and undid (counter-clockwise
/// positive), null without deskew.</summary>
internal sealed record OcrImageReport(string file, int width, int height, double? deskew_deg, OcrLineReport[] lines, OcrBlockReport[] blocks,
    OcrTimingsReport timings_ms);

/// <summary>A block: its bounds [x, y, width, height] in pixels and its lines.</summary>
internal sealed record OcrBlockReport(int[] bbox, OcrLineReport[] lines);

/// <summary>One line: its text, confidence (0-1), box (4 [x, y] corners, top-left first, clockwise), bounds
/// [x, y, width, height] and words.</summary>
internal sealed record OcrLineReport(string text, double confidence, float[][] box, int[] bbox, OcrWordReport[] words);

/// <summary>One word: its text, confidence (0-1) and bounds [x, y, width, height].</summary>
internal sealed record OcrWordReport(string text, double confidence, int[] bbox);

/// <summary>Per-stage milliseconds; total includes preprocessing.</summary>
internal sealed record OcrTimingsReport(double preprocess, double det, double cls, double rec, double total);
#pragma warning restore IDE1006

/// <summary>Builds the JSON report of one image.</summary>
internal static class OcrJsonReports
{
    internal static OcrImageReport Image(string file, Image image, PreprocessResult? pre, OcrResult result)
    {
        double preMs = pre?.ElapsedMs ?? 0;
        double? angle = pre?.DeskewAngle is { } a ? Math.Round(a, 2) : null;
        var t = result.Timings;
        return new OcrImageReport(file, image.Width, image.Height, angle, result.Lines.Select(Line).ToArray(),
            result.Blocks.Select(b => new OcrBlockReport(Box(b.Bounds), b.Lines.Select(Line).ToArray())).ToArray(),
            new OcrTimingsReport(Ms(preMs), Ms(t.DetectionMs), Ms(t.ClassificationMs), Ms(t.RecognitionMs), Ms(preMs + t.TotalMs)));
    }

    private static OcrLineReport Line(OcrLine l) =>
        new(l.Text, Math.Round(l.Confidence, 4), l.Box.Select(p => new[] { p.X, p.Y }).ToArray(), Box(l.Bounds),
            l.Words.Select(w => new OcrWordReport(w.Text, Math.Round(w.Confidence, 4), Box(w.Box))).ToArray());

    private static int[] Box(OcrBox b) => [b.X, b.Y, b.Width, b.Height];

    private static double Ms(double ms) => Math.Round(ms, 2);
}

/// <summary>Source-generated JSON for <c>tessera ocr</c> (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(OcrReport))]
internal sealed partial class OcrJsonContext : JsonSerializerContext;
