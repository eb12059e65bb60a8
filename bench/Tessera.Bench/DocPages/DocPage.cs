using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Tessera.Bench.DocPages;

/// <summary>One benchmark page: a PNG and its text in reading order.</summary>
/// <param name="Source">The page source ("drawn" or "html").</param>
/// <param name="Name">A name unique in the run, e.g. "drawn-03-letter".</param>
/// <param name="ImagePath">The rendered PNG.</param>
/// <param name="Truth">The page's text in reading order, pieces separated by single spaces.</param>
internal sealed record DocPage(string Source, string Name, string ImagePath, string Truth);

/// <summary>Runs the external tools the page sources need, with their arguments passed one by one (no shell).</summary>
internal static class DocTools
{
    /// <summary>Runs <paramref name="tool"/> and returns its standard output; throws naming the tool, its exit code
    /// and its standard error when it fails or cannot be started.</summary>
    public static string Run(string tool, IEnumerable<string> argv, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in argv) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"'{tool}' could not be started ({e.Message}); is it installed?", e); }
        using (p)
        {
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{tool} did not finish within {timeoutMs / 1000} s");
            }
            if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} failed ({p.ExitCode}): {err.Result.Trim()}");
            return output.Result;
        }
    }

    /// <summary>Whether <paramref name="tool"/> starts with <paramref name="arg"/>; if not, says what to install.</summary>
    public static bool Present(string tool, string arg, string package)
    {
        try
        {
            Run(tool, [arg], 60_000);
            return true;
        }
        catch (InvalidOperationException)
        {
            Console.Error.WriteLine($"ocr-doc: '{tool}' is missing or broken; install it: sudo apt-get install {package}");
            return false;
        }
    }

    /// <summary>A short hash of what a page is made from, so a file rendered from the same input is reused and a
    /// changed generator never reads a stale one.</summary>
    public static string Hash(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..10];
}
