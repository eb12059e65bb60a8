using System.Globalization;
using System.Text.Json;
using Tessera.Formats.Templates;

namespace Tessera.Formats.Tests.Templates;

/// <summary>Jinja2 itself (Debian's python3-jinja2) with Hugging Face's chat-template environment, run by
/// Python/jinja_render.py over a batch of (template, variables) cases in one process.</summary>
internal static class JinjaOracle
{
    /// <summary>The fixed clock both engines use for strftime_now.</summary>
    public static readonly DateTime Now = new(2024, 7, 26, 9, 5, 3);

    public static string? Missing() => PythonOracle.Missing("jinja2");

    /// <summary>Jinja2's output, or its error type and message.</summary>
    public sealed record Result(string? Text, string? Error, string? Message);

    public static IReadOnlyList<Result> Render(IReadOnlyList<(string Template, IReadOnlyDictionary<string, object?> Vars)> cases)
    {
        var list = new List<object?>();
        foreach (var (template, vars) in cases)
        {
            var v = new OrderedDictionary<string, object?>();
            foreach (var (k, value) in vars) v[k] = value;
            list.Add(new OrderedDictionary<string, object?> { ["template"] = template, ["vars"] = v });
        }
        var request = new OrderedDictionary<string, object?>
        {
            ["now"] = Now.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture),
            ["cases"] = list,
        };
        using var dir = new TempDir();
        string path = dir.File("cases.json");
        File.WriteAllText(path, PyJson.Dumps(request, new PyJson.Options(EnsureAscii: true, null, ", ", ": ", SortKeys: false)));
        using var doc = JsonDocument.Parse(PythonOracle.RunScript("jinja_render.py", path));
        return doc.RootElement.EnumerateArray().Select(e => e.TryGetProperty("text", out var t)
            ? new Result(t.GetString(), null, null)
            : new Result(null, e.GetProperty("error").GetString(), e.GetProperty("message").GetString())).ToList();
    }

    /// <summary>Our rendering, or the exception.</summary>
    public static (string? Text, TemplateException? Error) Ours(Func<string> render)
    {
        try { return (render(), null); }
        catch (TemplateException e) { return (null, e); }
    }

    /// <summary>Null when ours matches Jinja2 (the same text, or both failing; a raise_exception message must match
    /// exactly), else what differs.</summary>
    public static string? Compare(Result expected, (string? Text, TemplateException? Error) ours)
    {
        if (expected.Text is not null)
            return ours.Text == expected.Text ? null
                : ours.Error is not null ? $"Jinja2 rendered {Show(expected.Text)}, we failed: {ours.Error.Message}"
                : $"expected {Show(expected.Text)}\n      got {Show(ours.Text!)}";
        if (ours.Error is null) return $"Jinja2 failed ({expected.Error}: {expected.Message}), we rendered {Show(ours.Text!)}";
        if (expected.Error == "TemplateError" && (ours.Error is not TemplateRaisedException || ours.Error.Reason != expected.Message))
            return $"Jinja2 raised '{expected.Message}', we failed with: {ours.Error.Message}";
        return null;
    }

    private static string Show(string s) => JsonSerializer.Serialize(s.Length > 600 ? s[..600] + "..." : s);
}
