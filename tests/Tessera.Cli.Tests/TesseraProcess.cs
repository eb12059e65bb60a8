using System.Diagnostics;

namespace Tessera.Cli.Tests;

/// <summary>Runs the tessera command line (the Tessera.Cli.dll built beside the tests) in a child process from the
/// repository root, so that it finds models/ppocr-v4 as a user's run from a clone does.</summary>
internal static class TesseraProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>The repository root: the first ancestor of the test binaries holding Runtime.sln.</summary>
    public static string RepoRoot { get; } = FindRoot();

    public static Result Run(params string[] args) => RunWithInput(null, args);

    /// <summary>As <see cref="Run"/>, with <paramref name="stdin"/> written to a pipe and closed (as a script drives
    /// an interactive command); null leaves stdin alone.</summary>
    public static Result RunWithInput(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"tessera {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Runtime.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"no Runtime.sln above {AppContext.BaseDirectory}");
    }
}
