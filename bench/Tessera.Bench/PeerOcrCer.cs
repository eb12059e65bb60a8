using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models;
using Tessera.Models.Ocr;

namespace Tessera.Bench;

/// <summary>`peer ocr-cer [--threads T] [--generated N] [--sizes 18,28] [--noise 1] [--beam 5] [--dir DIR] [--models DIR]
/// [--show 1]`: character error rate of Tessera's OCR pipeline beside Tesseract's on text lines rendered for the purpose.
///
/// <para>Lines: a fixed list of English sentences with digits and punctuation plus <c>--generated</c> lines from a
/// seeded generator, each rendered by ImageMagick in DejaVu Sans, Serif and Sans Mono at each <c>--sizes</c> point size
/// with a margin of a quarter of the point size (about what the detector's crops leave: a wide margin shrinks the
/// text inside the recogniser's 48-pixel height and costs PP-OCR characters), every other image with mild Gaussian
/// noise and blur (<c>--noise 0</c> turns that off). Tessera reads each line in
/// recognition-only mode (greedy, and with a beam of <c>--beam</c> unless 0); Tesseract reads them with
/// <c>--psm 7</c> (one text line), and "onnxruntime" is Tessera's pipeline with ONNX Runtime running the networks
/// (greedy), which tells the model's errors from Tessera's, all in one process from a list file, so its time per line includes a share of one
/// process start. Then a page of 20 lines is read whole: Tessera with detection and recognition, Tesseract with its
/// page segmentation.</para>
///
/// <para>CER = Levenshtein distance / reference length, summed over lines, after NFKC normalisation of both sides
/// (PP-OCR's Chinese dictionary has full-width forms of ASCII punctuation). It is given with spaces (runs of white
/// space as one space) and without any white space, since PP-OCRv4's Chinese model often drops spaces in English.
/// One JSON line per engine and mode, then per engine and font.</para></summary>
public static class PeerOcrCer
{
    private static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Invoice #4471 is due on 2024-03-15; please pay $1,250.00.",
        "Call us at (555) 012-3487 between 9:00 and 17:30.",
        "Only 37% of the 1,024 samples passed the test.",
        "She said: \"Meet me at Platform 9, not 10!\"",
        "Version 2.11.3 fixes bugs #812, #815 and #1033.",
        "Temperature dropped to -4.5 C overnight, a record low.",
        "Total: 3 items x $19.99 = $59.97 (tax included)",
        "Room 305 opens at 9 AM; bring your ID card.",
        "Is it 1984 or 2084? Nobody knows for sure.",
        "Chapter 12, page 148: The Return of the King",
        "Order A7-X3/B is ready for pickup at Gate 42.",
        "Flight BA 2490 departs at 06:45 from Terminal 5.",
        "Add 250 g flour, 2 eggs and 120 ml milk; stir well.",
        "Lat 51.5074 N, Lon 0.1278 W is central London.",
        "Error 404: the page you requested was not found.",
        "We shipped 12,480 units in Q3, up 8.2% year on year.",
        "Use [brackets], {braces} and <angles> with care.",
        "Password must be 8-64 characters long & unique.",
        "Dr. Smith's appointment moved to Tue, 11/07 at 2pm.",
    ];

    private static readonly string[] Words =
    [
        "account", "balance", "river", "window", "garden", "report", "station", "market", "yellow", "signal",
        "quiet", "number", "delivery", "north", "engine", "paper", "silver", "winter", "morning", "office",
        "the", "of", "and", "to", "in", "for", "with", "on", "at", "by", "from", "new", "old", "big", "small",
    ];

    public static int Run(Args args)
    {
        int threads = args.Int("threads", 1), generated = args.Int("generated", 12), beam = args.Int("beam", 5);
        bool noise = args.Int("noise", 1) != 0, show = args.Int("show", 0) != 0;
        var sizes = args.Str("sizes", "18,28").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        string models = args.Str("models", PeerPpOcrRec.FindModels());
        string dir = args.Str("dir", Path.Combine(Path.GetTempPath(), "tessera-ocr-cer"));
        if (!ToolsPresent()) return 3;
        Directory.CreateDirectory(dir);

        var texts = Sentences.Concat(Generate(generated, new Random(2024))).ToList();
        var lines = RenderLines(texts, sizes, noise, dir);
        var (pagePath, pageText) = RenderPage(dir);
        Console.Error.WriteLine($"ocr-cer: {lines.Count} line images and a {pageText.Length}-line page in {dir}");

        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var rec = PpOcrRecognizer.Load(Path.Combine(models, OcrPipeline.RecognizerFile), Path.Combine(models, OcrPipeline.DictionaryFile), cpu);
        using var det = PpOcrDetector.Load(Path.Combine(models, OcrPipeline.DetectorFile), cpu);
        var engines = new List<(string Name, OcrPipeline Lines, OcrPipeline Page)>
        {
            ("tessera", new(cpu, new OcrOptions { RecognitionOnly = true }, rec, null, ownsModels: false),
                new(cpu, new OcrOptions(), rec, det, ownsModels: false)),
        };
        if (beam > 1)
            engines.Add(($"tessera-beam{beam}", new(cpu, new OcrOptions { RecognitionOnly = true, BeamWidth = beam }, rec, null, ownsModels: false),
                new(cpu, new OcrOptions { BeamWidth = beam }, rec, det, ownsModels: false)));

        // The same pipeline with ONNX Runtime running the networks: tells the model's errors from ours.
        var ortRec = new PeerOcrPage.OrtRecognizer(cpu, Path.Combine(models, OcrPipeline.RecognizerFile), Path.Combine(models, OcrPipeline.DictionaryFile), threads);
        engines.Add(("onnxruntime", new(cpu, new OcrOptions { RecognitionOnly = true }, ortRec, null, ownsModels: false),
            new(cpu, new OcrOptions(), ortRec, new PeerOcrPage.OrtDetector(cpu, Path.Combine(models, OcrPipeline.DetectorFile), threads), ownsModels: true)));

        var images = lines.Select(l => ImageDecoder.DecodeFile(l.Path)).ToList();
        var page = ImageDecoder.DecodeFile(pagePath);
        var results = new List<EngineResult>();
        foreach (var (name, linePipe, pagePipe) in engines)
        {
            for (int i = 0; i < Math.Min(3, images.Count); i++) linePipe.Run(images[i]); // JIT and weight packing
            var sw = Stopwatch.StartNew();
            var read = images.Select(img => string.Join(" ", linePipe.Run(img).Lines.Select(l => l.Text))).ToList();
            double lineMs = sw.Elapsed.TotalMilliseconds / images.Count;
            pagePipe.Run(page);
            sw.Restart();
            var pageRead = pagePipe.Run(page).Lines.Select(l => l.Text).ToList();
            results.Add(new(name, read, lineMs, pageRead, sw.Elapsed.TotalMilliseconds));
            linePipe.Dispose();
            pagePipe.Dispose();
        }
        results.Add(RunTesseract(lines, pagePath, threads, dir));

        var ci = CultureInfo.InvariantCulture;
        foreach (var r in results)
        {
            var (cer, cerNs) = Cer(lines.Select(l => l.Text), r.Lines);
            int exact = lines.Select((l, i) => Normalize(l.Text, true) == Normalize(r.Lines[i], true) ? 1 : 0).Sum();
            Console.WriteLine(string.Create(ci,
                $"{{\"suite\":\"ocr-cer\",\"engine\":\"{r.Name}\",\"mode\":\"lines\",\"lines\":{lines.Count},\"threads\":{threads},\"cer\":{cer:F4},\"cer_no_spaces\":{cerNs:F4},\"exact_lines\":{exact},\"ms_per_line\":{r.LineMs:F1}}}"));
            var (pc, pcNs) = Cer([string.Join(" ", pageText)], [string.Join(" ", r.Page)]);
            Console.WriteLine(string.Create(ci,
                $"{{\"suite\":\"ocr-cer\",\"engine\":\"{r.Name}\",\"mode\":\"page\",\"page_lines\":{pageText.Length},\"lines_found\":{r.Page.Count},\"threads\":{threads},\"cer\":{pc:F4},\"cer_no_spaces\":{pcNs:F4},\"ms_page\":{r.PageMs:F1}}}"));
        }
        foreach (var r in results)
            foreach (var g in lines.Select((l, i) => (l, i)).GroupBy(x => x.l.Variant[..x.l.Variant.IndexOf('@')]))
            {
                var (cer, cerNs) = Cer(g.Select(x => x.l.Text), g.Select(x => r.Lines[x.i]).ToList());
                Console.WriteLine(string.Create(ci,
                    $"{{\"suite\":\"ocr-cer\",\"engine\":\"{r.Name}\",\"font\":\"{g.Key}\",\"lines\":{g.Count()},\"cer\":{cer:F4},\"cer_no_spaces\":{cerNs:F4}}}"));
            }
        if (show)
            for (int i = 0; i < lines.Count; i++)
                foreach (var r in results)
                    if (Normalize(lines[i].Text, true) != Normalize(r.Lines[i], true))
                        Console.Error.WriteLine($"{r.Name,-16} {lines[i].Variant,-26} want \"{lines[i].Text}\"\n{"",-43} got  \"{r.Lines[i]}\"");
        return 0;
    }

    private sealed record LineSample(string Text, string Path, string Variant);

    private sealed record EngineResult(string Name, List<string> Lines, double LineMs, List<string> Page, double PageMs);

    /// <summary>Whether ImageMagick's <c>convert</c> and <c>tesseract</c> can be run; says how to install them if not.</summary>
    internal static bool ToolsPresent()
    {
        bool ok = true;
        foreach (var (tool, arg) in new[] { ("convert", "-version"), ("tesseract", "--version") })
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(tool, arg) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                p.StandardOutput.ReadToEnd();
                p.StandardError.ReadToEnd();
                p.WaitForExit();
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Console.Error.WriteLine($"'{tool}' was not found on PATH. Install it: sudo apt-get install tesseract-ocr tesseract-ocr-eng imagemagick");
                ok = false;
            }
        }
        return ok;
    }

    // Lines of 5 to 9 tokens: words (sometimes capitalised), numbers, prices, percentages, dates, times and codes,
    // with punctuation after some of them.
    private static IEnumerable<string> Generate(int count, Random rng)
    {
        string Token()
        {
            switch (rng.Next(10))
            {
                case 0: return rng.Next(1, 99999).ToString("N0", CultureInfo.InvariantCulture);
                case 1: return string.Create(CultureInfo.InvariantCulture, $"${rng.Next(1, 999)}.{rng.Next(100):D2}");
                case 2: return string.Create(CultureInfo.InvariantCulture, $"{rng.Next(1, 100)}.{rng.Next(10)}%");
                case 3: return string.Create(CultureInfo.InvariantCulture, $"{rng.Next(1990, 2031)}-{rng.Next(1, 13):D2}-{rng.Next(1, 29):D2}");
                case 4: return string.Create(CultureInfo.InvariantCulture, $"{rng.Next(24):D2}:{rng.Next(60):D2}");
                case 5: return $"{(char)('A' + rng.Next(26))}{rng.Next(10)}-{(char)('A' + rng.Next(26))}{rng.Next(100)}";
                default:
                    string w = Words[rng.Next(Words.Length)];
                    return rng.Next(4) == 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w;
            }
        }
        string[] punct = [",", ".", ";", ":", "?", "!"];
        for (int i = 0; i < count; i++)
        {
            var tokens = Enumerable.Range(0, 5 + rng.Next(5)).Select(_ => Token() + (rng.Next(5) == 0 ? punct[rng.Next(punct.Length)] : "")).ToList();
            if (rng.Next(3) == 0) tokens[1] = "(" + tokens[1] + ")";
            yield return string.Join(" ", tokens);
        }
    }

    private static readonly (string Name, string File)[] Fonts =
    [
        ("sans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        ("serif", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
        ("mono", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    ];

    // Each text in each font and size; an image already in `dir` under the same name is reused.
    private static List<LineSample> RenderLines(List<string> texts, int[] sizes, bool noise, string dir)
    {
        var result = new List<LineSample>();
        int n = 0;
        for (int t = 0; t < texts.Count; t++)
            foreach (var (font, file) in Fonts)
                foreach (int size in sizes)
                {
                    bool noisy = noise && n++ % 2 == 1;
                    string variant = $"{font}@{size}{(noisy ? "+noise" : "")}";
                    string path = Path.Combine(dir, $"line{t:D3}-{variant.Replace('@', '-').Replace('+', '-')}-m{size / 4}.png");
                    var argv = new List<string> { "-font", file, "-pointsize", size.ToString(CultureInfo.InvariantCulture),
                        "-background", "white", "-fill", "black", "label:" + texts[t], "-bordercolor", "white", "-border", (size / 4).ToString(CultureInfo.InvariantCulture) };
                    if (noisy) argv.AddRange(["-attenuate", "0.35", "+noise", "Gaussian", "-blur", "0x0.6"]);
                    argv.AddRange(["-depth", "8", "PNG24:" + path]);
                    if (!File.Exists(path)) Convert(argv);
                    result.Add(new(texts[t], path, variant));
                }
        return result;
    }

    /// <summary>A page of 20 lines (the fixed sentences) in DejaVu Sans 20 pt, rendered into <paramref name="dir"/>
    /// once; its path and its lines.</summary>
    internal static (string Path, string[] Lines) RenderPage(string dir)
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "page20.png");
        // One label per line, stacked left-aligned (a multi-line label trips over '%' escapes across lines).
        if (!File.Exists(path))
            Convert(["-font", Fonts[0].File, "-pointsize", "20", "-background", "white", "-fill", "black",
                .. Sentences.Select(s => "label:" + s), "-bordercolor", "white", "-border", "0x6", "-append",
                "-border", "40", "+repage", "-depth", "8", "PNG24:" + path]);
        return (path, Sentences);
    }

    private static void Convert(IEnumerable<string> argv)
    {
        var psi = new ProcessStartInfo("convert") { RedirectStandardError = true };
        foreach (var a in argv) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"convert failed ({p.ExitCode}): {err}");
    }

    // Tesseract reads every line image from one list file (outputs separated by form feeds), then the page.
    private static EngineResult RunTesseract(List<LineSample> lines, string page, int threads, string dir)
    {
        string list = Path.Combine(dir, "lines.txt");
        File.WriteAllLines(list, lines.Select(l => l.Path));
        var sw = Stopwatch.StartNew();
        var outs = Tesseract(list, "7", threads).Split('\f');
        double lineMs = sw.Elapsed.TotalMilliseconds / lines.Count;
        var read = lines.Select((_, i) => i < outs.Length ? outs[i].Trim() : "").ToList();
        sw.Restart();
        var pageRead = Tesseract(page, "3", threads).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        return new("tesseract", read, lineMs, pageRead, sw.Elapsed.TotalMilliseconds);
    }

    private static string Tesseract(string input, string psm, int threads)
    {
        var psi = new ProcessStartInfo("tesseract") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { input, "stdout", "-l", "eng", "--psm", psm }) psi.ArgumentList.Add(a);
        psi.Environment["OMP_THREAD_LIMIT"] = threads.ToString(CultureInfo.InvariantCulture);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"tesseract failed ({p.ExitCode}): {err.Result}");
        return text;
    }

    // Summed edit distance over summed reference length, with white space kept (as single spaces) or removed.
    private static (double Cer, double CerNoSpaces) Cer(IEnumerable<string> refs, IReadOnlyList<string> hyps)
    {
        long d = 0, n = 0, dNs = 0, nNs = 0;
        int i = 0;
        foreach (var r in refs)
        {
            string a = Normalize(r, true), b = Normalize(hyps[i], true), aNs = Normalize(r, false), bNs = Normalize(hyps[i++], false);
            d += Levenshtein(a, b);
            n += a.Length;
            dNs += Levenshtein(aNs, bNs);
            nNs += aNs.Length;
        }
        return ((double)d / Math.Max(1, n), (double)dNs / Math.Max(1, nNs));
    }

    private static string Normalize(string s, bool keepSpaces)
    {
        var sb = new StringBuilder();
        foreach (char c in s.Normalize(NormalizationForm.FormKC))
        {
            if (!char.IsWhiteSpace(c)) sb.Append(c);
            else if (keepSpaces && sb.Length > 0 && sb[^1] != ' ') sb.Append(' ');
        }
        return sb.ToString().TrimEnd();
    }

    internal static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
