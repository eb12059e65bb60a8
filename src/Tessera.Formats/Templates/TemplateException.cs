namespace Tessera.Formats.Templates;

/// <summary>A chat template that cannot be parsed or rendered: a syntax error, a construct this engine does not support,
/// an undefined value used where Jinja2 raises, or the template's own <c>raise_exception(...)</c>. The message names the
/// template line when one is known.</summary>
public class TemplateException : TesseraException
{
    /// <summary>The 1-based template line, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The message without the line prefix (for <c>raise_exception</c>: exactly the template's text).</summary>
    public string Reason { get; }

    /// <summary>An error at <paramref name="line"/> (0: unknown).</summary>
    public TemplateException(string reason, int line = 0)
        : base(line > 0 ? $"template line {line}: {reason}" : $"template: {reason}")
    {
        Reason = reason;
        Line = line;
    }
}

/// <summary>What the template's <c>raise_exception(message)</c> throws (Hugging Face's TemplateError): the template
/// itself refused the input, e.g. a system message for a model that has none.</summary>
public sealed class TemplateRaisedException(string message, int line) : TemplateException(message, line);
