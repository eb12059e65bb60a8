using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Bench.DocPages;
using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;

namespace Tessera.Bench;

/// <summary>`peer ocr-doc [--pages N] [--threads N] [--json 1] [--sources drawn,html] [--cls 0] [--det-limit 960] [--crop-pad 0.1] [--show 1] [--dir DIR]
/// [--models DIR] [--peer 0] [--self-test]`: whole pages with known text in reading order, read by Tessera's OCR pipeline and by Tesseract
/// (<c>tesseract IMG stdout --psm 3</c>, a process per page, its start counted in its time), scored by strict CER in
/// reading order (<see cref="PeerOcrDocScore"/>).
///
/// <para>Two page sources that share no layout constants: <see cref="DrawnPages"/> (ImageMagick: columns, form,
/// letter, slide, receipt, a noisy rotated scan) and <see cref="HtmlPages"/> (HTML printed by headless chromium,
/// rasterised by pdftoppm at 150 dpi; the truth read back from the HTML). <c>--pages</c> pages of each (default 6
/// and 5: every kind once). Tessera's text is its result's lines in order, joined by new lines.</para>
///
/// <para>Output: one JSON line per engine (per page CER and milliseconds, per source mean CER and mean milliseconds,
/// overall means), then a summary line whose ratios are Tesseract's over Tessera's; with <c>--json 1</c> one JSON
/// object holding both. Progress goes to standard error, and with <c>--show 1</c> each page's truth and readings.
/// <c>--peer 0</c> skips Tesseract (while working on Tessera's side: its line alone, no summary).</para></summary>
public static class PeerOcrDoc
{
    private sealed record Reading(DocPage Page, string Text, double Ms, double Cer);

    public static int Run(Args args)
    {
        if (args.Int("self-test", 0) != 0) return PeerOcrDocSelfTest.Run();
        try { return Bench(args); }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or IOException or TesseraException)
        {
            // Bad options, a failing tool or a missing model: one line naming it, not a stack trace.
            Console.Error.WriteLine($"ocr-doc: {e.Message}");
            return 1;
        }
    }

    private static int Bench(Args args)
    {
        int threads = args.Int("threads", 1), pagesArg = args.Int("pages", 0);
        bool json = args.Int("json", 0) != 0, show = args.Int("show", 0) != 0;
        // The pipeline's own defaults unless asked: --cls turns on the direction classifier, --det-limit sets the
        // detector's side limit (an A4 page at 150 dpi is 1240x1754, scaled to 960 by default).
        var ocr = new OcrOptions { UseAngleClassifier = args.Int("cls", 0) != 0 };
        ocr = ocr with
        {
            DetLimitSideLen = args.Int("det-limit", ocr.DetLimitSideLen),
            CropPadding = double.Parse(args.Str("crop-pad", ocr.CropPadding.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
        };
        var sources = args.Str("sources", "drawn,html").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (threads < 1 || pagesArg < 0 || pagesArg > 500) throw new ArgumentException($"--threads must be positive and --pages 0 to 500, got {threads} and {pagesArg}");
        if (sources.Length == 0 || sources.Any(s => s is not ("drawn" or "html"))) throw new ArgumentException($"--sources takes drawn and/or html, got '{args.Str("sources", "")}'");
        string models = args.Str("models", "") is { Length: > 0 } m ? m : PeerPpOcrRec.FindModels();
        if (!File.Exists(Path.Combine(models, OcrPipeline.RecognizerFile))) throw new ArgumentException($"no PP-OCR models in '{models}'; pass --models DIR");
        string dir = args.Str("dir", Path.Combine(Path.GetTempPath(), "tessera-ocr-doc"));
        Directory.CreateDirectory(dir);

        bool ok = DocTools.Present("tesseract", "--version", "tesseract-ocr tesseract-ocr-eng");
        if (sources.Contains("drawn")) ok &= DocTools.Present("convert", "-version", "imagemagick fonts-dejavu-core");
        if (sources.Contains("html")) ok &= DocTools.Present("chromium", "--version", "chromium") & DocTools.Present("pdftoppm", "-v", "poppler-utils");
        if (!ok) return 3;

        var sw = Stopwatch.StartNew();
        var pages = new List<DocPage>();
        if (sources.Contains("drawn")) pages.AddRange(DrawnPages.Render(pagesArg > 0 ? pagesArg : DrawnPages.Kinds.Length, dir));
        if (sources.Contains("html"))
        {
            string profile = Path.Combine(dir, "chromium-profile");
            try { pages.AddRange(HtmlPages.Render(pagesArg > 0 ? pagesArg : HtmlPages.Kinds.Length, dir, profile)); }
            finally { if (Directory.Exists(profile)) Directory.Delete(profile, recursive: true); }
        }
        Console.Error.WriteLine($"ocr-doc: {pages.Count} pages in {dir} ({sw.Elapsed.TotalSeconds:F1} s to render or reuse)");

        var tessera = ReadTessera(pages, models, threads, ocr);
        var options = new JsonSerializerOptions { WriteIndented = false };
        if (args.Int("peer", 1) == 0)
        {
            if (show)
                foreach (var a in tessera)
                    Console.Error.WriteLine($"== {a.Page.Name}\ntruth:     {PeerOcrDocScore.Normalize(a.Page.Truth)}\ntessera:   {PeerOcrDocScore.Normalize(a.Text)}\n");
            Console.WriteLine(JsonSerializer.Serialize(EngineReport("tessera", tessera, threads, sources), options));
            return 0;
        }
        var tesseract = ReadTesseract(pages, threads);
        if (show)
            foreach (var (a, b) in tessera.Zip(tesseract))
                Console.Error.WriteLine($"== {a.Page.Name}\ntruth:     {PeerOcrDocScore.Normalize(a.Page.Truth)}\ntessera:   {PeerOcrDocScore.Normalize(a.Text)}\ntesseract: {PeerOcrDocScore.Normalize(b.Text)}\n");

        var engines = new[] { EngineReport("tessera", tessera, threads, sources), EngineReport("tesseract", tesseract, threads, sources) };
        engines[1]["version"] = DocTools.Run("tesseract", ["--version"]).Split('\n')[0].Trim();
        var summary = Summary(tessera, tesseract, sources);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["suite"] = "ocr-doc", ["engines"] = engines, ["summary"] = summary }, options));
        else
        {
            foreach (var e in engines) Console.WriteLine(JsonSerializer.Serialize(e, options));
            Console.WriteLine(JsonSerializer.Serialize(summary, options));
        }
        return 0;
    }

    // One pipeline for all pages, warmed up on the first page (JIT, weight packing, arenas) before timing.
    private static List<Reading> ReadTessera(List<DocPage> pages, string models, int threads, OcrOptions options)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var pipeline = OcrPipeline.Load(models, cpu, options);
        var result = new List<Reading>();
        for (int i = 0; i < pages.Count; i++)
        {
            var image = ImageDecoder.DecodeFile(pages[i].ImagePath);
            if (i == 0) pipeline.Run(image);
            var sw = Stopwatch.StartNew();
            var lines = pipeline.Run(image).Lines;
            double ms = sw.Elapsed.TotalMilliseconds;
            string text = string.Join("\n", lines.Select(l => l.Text));
            result.Add(new(pages[i], text, ms, PeerOcrDocScore.Cer(pages[i].Truth, text)));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ocr-doc: tessera   {pages[i].Name,-22} cer {result[^1].Cer:F4} {ms,8:F0} ms"));
        }
        return result;
    }

    // A process per page, as a user runs it; the first page is read once untimed so the binary and its traineddata
    // are in the page cache.
    private static List<Reading> ReadTesseract(List<DocPage> pages, int threads)
    {
        var result = new List<Reading>();
        for (int i = 0; i < pages.Count; i++)
        {
            if (i == 0) Tesseract(pages[i].ImagePath, threads);
            var sw = Stopwatch.StartNew();
            string text = Tesseract(pages[i].ImagePath, threads);
            double ms = sw.Elapsed.TotalMilliseconds;
            result.Add(new(pages[i], text, ms, PeerOcrDocScore.Cer(pages[i].Truth, text)));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ocr-doc: tesseract {pages[i].Name,-22} cer {result[^1].Cer:F4} {ms,8:F0} ms"));
        }
        return result;
    }

    private static string Tesseract(string image, int threads)
    {
        var psi = new ProcessStartInfo("tesseract") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { image, "stdout", "-l", "eng", "--psm", "3" }) psi.ArgumentList.Add(a);
        psi.Environment["OMP_THREAD_LIMIT"] = threads.ToString(CultureInfo.InvariantCulture);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"tesseract failed on {image} ({p.ExitCode}): {err.Result}");
        return text;
    }

    private static double R4(double x) => Math.Round(x, 4);

    private static Dictionary<string, object> EngineReport(string engine, List<Reading> rs, int threads, string[] sources) => new()
    {
        ["suite"] = "ocr-doc",
        ["engine"] = engine,
        ["threads"] = threads,
        ["pages"] = rs.Count,
        ["cer"] = R4(rs.Average(r => r.Cer)),
        ["ms_per_page"] = Math.Round(rs.Average(r => r.Ms), 1),
        ["sources"] = sources.ToDictionary(s => s, s => (object)new Dictionary<string, object>
        {
            ["pages"] = rs.Count(r => r.Page.Source == s),
            ["cer"] = R4(rs.Where(r => r.Page.Source == s).Average(r => r.Cer)),
            ["ms_per_page"] = Math.Round(rs.Where(r => r.Page.Source == s).Average(r => r.Ms), 1),
        }),
        ["per_page"] = rs.Select(r => new Dictionary<string, object>
        {
            ["page"] = r.Page.Name, ["source"] = r.Page.Source, ["truth_chars"] = PeerOcrDocScore.Normalize(r.Page.Truth).Length,
            ["cer"] = R4(r.Cer), ["ms"] = Math.Round(r.Ms, 1),
        }).ToList(),
    };

    // Ratios are Tesseract's over Tessera's: above 1 means Tessera has the lower CER or is faster.
    private static Dictionary<string, object> Summary(List<Reading> tessera, List<Reading> tesseract, string[] sources)
    {
        static object Ratio(double peer, double ours) => ours > 0 ? R4(peer / ours) : peer > 0 ? "inf" : 1.0;
        var cer = new Dictionary<string, object> { ["all"] = Ratio(tesseract.Average(r => r.Cer), tessera.Average(r => r.Cer)) };
        var ms = new Dictionary<string, object> { ["all"] = Ratio(tesseract.Average(r => r.Ms), tessera.Average(r => r.Ms)) };
        var lower = new Dictionary<string, object>();
        foreach (var s in sources)
        {
            double a = tessera.Where(r => r.Page.Source == s).Average(r => r.Cer), b = tesseract.Where(r => r.Page.Source == s).Average(r => r.Cer);
            cer[s] = Ratio(b, a);
            ms[s] = Ratio(tesseract.Where(r => r.Page.Source == s).Average(r => r.Ms), tessera.Where(r => r.Page.Source == s).Average(r => r.Ms));
            lower[s] = a < b;
        }
        return new()
        {
            ["suite"] = "ocr-doc", ["summary"] = true, ["peer"] = "tesseract", ["pages"] = tessera.Count,
            ["cer_ratio_tesseract_over_tessera"] = cer, ["ms_ratio_tesseract_over_tessera"] = ms, ["tessera_lower_cer"] = lower,
        };
    }
}
