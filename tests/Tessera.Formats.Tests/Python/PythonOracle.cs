using System.Diagnostics;

namespace Tessera.Formats.Tests;

/// <summary>Runs a reference script with Debian's /usr/bin/python3 (whose dist-packages hold python3-pil, -numpy and
/// -torch: .ci/run installs them). <see cref="Missing"/> says why a test must skip.</summary>
public static class PythonOracle
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Null when the interpreter imports every module named, else the reason a test skips.</summary>
    public static string? Missing(params string[] modules)
    {
        if (!File.Exists(Python)) return $"{Python} is absent (apt-get install python3 {string.Join(" ", modules.Select(Package))})";
        var (code, _, err) = Run("-c", $"import {string.Join(", ", modules)}");
        return code == 0 ? null : $"{Python} cannot import {string.Join(", ", modules)} (apt-get install {string.Join(" ", modules.Select(Package))}): {err.Trim()}";
    }

    /// <summary>Runs a script from tests/.../Python (copied beside the test assembly) with arguments; throws with its
    /// stderr when it fails.</summary>
    public static string RunScript(string script, params string[] args)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Python", script);
        var (code, output, err) = Run([path, .. args]);
        if (code != 0) throw new InvalidOperationException($"{script} failed ({code}): {err}");
        return output;
    }

    private static string Package(string module) => module switch { "PIL" => "python3-pil", "torch" => "python3-torch", _ => "python3-" + module };

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Debian's interpreter must see its own dist-packages, not a pyenv's site.
        psi.Environment.Remove("PYTHONPATH");
        psi.Environment.Remove("PYTHONHOME");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
