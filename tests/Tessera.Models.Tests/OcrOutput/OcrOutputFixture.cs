using System.Diagnostics;
using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Ocr;

namespace Tessera.Models.Tests.OcrOutput;

/// <summary>What the output-format tests share: the bundled sample read by the real pipeline (once), hand-made
/// documents with known words, and external tools (tesseract, poppler) run as processes.</summary>
public static class OcrOutputFixture
{
    private static readonly Lazy<OcrResult> s_sample = new(() =>
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var pipeline = OcrPipeline.Load(Path.GetDirectoryName(ModelFiles.Rec)!, cpu, new OcrOptions());
        return pipeline.Run(SampleImage());
    });

    /// <summary>The bundled sample page as OCR read it.</summary>
    public static OcrDocument Sample(int pages = 1) =>
        new(Enumerable.Range(0, pages).Select(_ => new OcrPage("sample.png", s_sample.Value)).ToArray());

    /// <summary>The bundled sample's pixels.</summary>
    public static Image SampleImage()
    {
        var d = ImageDecoder.DecodeFile(OcrRecFixture.Sample);
        return new Image(d.Pixels, d.Width, d.Height, 3);
    }

    /// <summary>One line of words at known boxes: each word <c>(text, x, width)</c> on rows y..y+height.</summary>
    public static OcrLine Line(int y, int height, params (string Text, int X, int Width)[] words)
    {
        var ws = words.Select(w => new OcrWord(w.Text, 0.9f, new OcrBox(w.X, y, w.Width, height))).ToArray();
        var b = OcrBox.Union(ws.Select(w => w.Box));
        OcrPoint[] quad = [new(b.X, b.Y), new(b.Right, b.Y), new(b.Right, b.Bottom), new(b.X, b.Bottom)];
        return new OcrLine(string.Join(' ', words.Select(w => w.Text)), 0.9f, quad) { Words = ws };
    }

    /// <summary>A page of the given blocks (each a list of lines) and size.</summary>
    public static OcrResult Page(int width, int height, params OcrLine[][] blocks) =>
        new(blocks.SelectMany(b => b).ToArray(), new OcrTimings(0, 0, 0, 0))
        {
            Blocks = blocks.Select(b => OcrBlock.Of(b)).ToArray(),
            PageWidth = width,
            PageHeight = height,
        };

    /// <summary>Whether <paramref name="tool"/> is on the PATH.</summary>
    public static bool Has(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));

    /// <summary>Runs <paramref name="tool"/> and returns its exit code, stdout and stderr.</summary>
    public static (int Exit, string Stdout, string Stderr) Run(string tool, string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException($"{tool} did not finish in 120 s"); }
        return (p.ExitCode, stdout, err.Result);
    }

    private static readonly List<string> s_temp = [];

    /// <summary>A new empty temporary directory, removed when the test process exits.</summary>
    public static string TempDir()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-ocr-output-").FullName;
        lock (s_temp)
        {
            if (s_temp.Count == 0) AppDomain.CurrentDomain.ProcessExit += (_, _) => { foreach (var d in s_temp) try { Directory.Delete(d, true); } catch (IOException) { } };
            s_temp.Add(dir);
        }
        return dir;
    }
}
