using System.Diagnostics;
using Tessera.Imaging;

namespace Tessera.Models.Tests;

/// <summary>Text rendered by ImageMagick's <c>convert</c> (an independent renderer), for the OCR spacing and layout
/// tests; they skip when it is absent (apt-get install imagemagick fonts-dejavu-core).</summary>
public static class RenderedText
{
    private static readonly Lazy<bool> s_available = new(() =>
    {
        try { return Convert(["-version"]).Length >= 0; }
        catch (Exception) { return false; }
    });

    /// <summary>Whether <c>convert</c> runs here.</summary>
    public static bool Available => s_available.Value;

    /// <summary>One line of <paramref name="text"/> on white, a margin around it.</summary>
    public static Image Line(string text, string font, int pointSize, double kerning)
    {
        string file = Path.Combine(Path.GetTempPath(), $"tessera-line-{Guid.NewGuid():N}.png");
        try
        {
            Convert(["-background", "white", "-fill", "black", "-font", font, "-pointsize", $"{pointSize}",
                "-kerning", kerning.ToString(System.Globalization.CultureInfo.InvariantCulture), "label:" + text,
                "-bordercolor", "white", "-border", "16", file]);
            return ImageDecoder.DecodeFile(file);
        }
        finally { File.Delete(file); }
    }

    /// <summary>A white page <paramref name="width"/> x <paramref name="height"/> with each text drawn at its
    /// baseline's left end.</summary>
    public static Image Page(int width, int height, int pointSize, params (int X, int Y, string Text)[] texts)
    {
        string file = Path.Combine(Path.GetTempPath(), $"tessera-page-{Guid.NewGuid():N}.png");
        try
        {
            var args = new List<string> { "-size", $"{width}x{height}", "xc:white", "-font", "DejaVu-Sans", "-pointsize", $"{pointSize}", "-fill", "black" };
            foreach (var (x, y, t) in texts) args.AddRange(["-annotate", $"+{x}+{y}", t]);
            args.Add(file);
            Convert(args);
            return ImageDecoder.DecodeFile(file);
        }
        finally { File.Delete(file); }
    }

    private static string Convert(IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo("convert") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"convert failed ({p.ExitCode}): {err}");
        return output;
    }

    /// <summary>Word error rate: the word-level edit distance over the number of truth words.</summary>
    public static double WordErrorRate(string truth, string got) =>
        EditDistance(truth.Split(' ', StringSplitOptions.RemoveEmptyEntries), got.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Character error rate: the character edit distance over the truth's length (spaces count).</summary>
    public static double CharErrorRate(string truth, string got) => EditDistance(truth.ToCharArray(), got.ToCharArray());

    // Levenshtein distance over the truth's length.
    private static double EditDistance<T>(T[] t, T[] g) where T : IEquatable<T>
    {
        var d = new int[t.Length + 1, g.Length + 1];
        for (int i = 0; i <= t.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= g.Length; j++) d[0, j] = j;
        for (int i = 1; i <= t.Length; i++)
            for (int j = 1; j <= g.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (t[i - 1].Equals(g[j - 1]) ? 0 : 1));
        return (double)d[t.Length, g.Length] / Math.Max(t.Length, 1);
    }
}
