namespace Tessera.Formats.Templates;

/// <summary>Options of <see cref="JinjaTemplate.Render"/>.</summary>
public sealed record JinjaRenderOptions
{
    /// <summary>The clock behind <c>strftime_now</c> (local time by default, as Python's datetime.now()).</summary>
    public Func<DateTime> Now { get; init; } = () => DateTime.Now;
}

/// <summary>A Jinja2 template, parsed once and rendered many times, with the environment Hugging Face's
/// <c>apply_chat_template</c> uses: trim_blocks and lstrip_blocks on, break/continue (loop controls), the globals
/// <c>raise_exception</c>, <c>strftime_now</c>, <c>namespace</c>, <c>range</c>, <c>dict</c>, and <c>tojson</c> as
/// json.dumps. It covers what chat templates use (see README); anything else is a <see cref="TemplateException"/>
/// naming the construct and its line.</summary>
public sealed class JinjaTemplate
{
    private readonly IReadOnlyList<Stmt> _body;

    private JinjaTemplate(IReadOnlyList<Stmt> body) => _body = body;

    /// <summary>Parses <paramref name="source"/>; throws <see cref="TemplateException"/> on a syntax error or an
    /// unsupported tag.</summary>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(JinjaParser.Parse(source));
    }

    /// <summary>Renders with <paramref name="variables"/> (converted by <see cref="TemplateValues.From"/>).</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, JinjaRenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        options ??= new JinjaRenderOptions();
        var scope = new JinjaScope(null);
        foreach (var (k, v) in variables) scope.Set(k, TemplateValues.From(v));
        return new JinjaRenderer(Globals(options)).Render(_body, scope);
    }

    private static Dictionary<string, object?> Globals(JinjaRenderOptions options) => new(StringComparer.Ordinal)
    {
        ["raise_exception"] = new JinjaFunction("raise_exception", a =>
            throw new TemplateRaisedException(JinjaValues.Str(a.Get(0, "message")), 0)),
        ["strftime_now"] = new JinjaFunction("strftime_now", a => PyStrftime.Format(options.Now(), JinjaValues.Str(a.Get(0, "format")))),
        ["namespace"] = new JinjaFunction("namespace", a =>
        {
            var ns = new JinjaNamespace();
            if (a.Positional.Count > 0 && a.Positional[0] is OrderedDictionary<string, object?> init)
                foreach (var (k, v) in init) ns.Attributes[k] = v;
            foreach (var (k, v) in a.Named) ns.Attributes[k] = v;
            return ns;
        }),
        ["dict"] = new JinjaFunction("dict", a =>
        {
            var d = new OrderedDictionary<string, object?>();
            foreach (var (k, v) in a.Named) d[k] = v;
            return d;
        }),
        ["range"] = new JinjaFunction("range", Range),
    };

    private static object? Range(JinjaArgs a)
    {
        var p = a.Positional.Select(JinjaValues.ToLong).ToArray();
        var (start, stop, step) = p.Length switch
        {
            1 => (0L, p[0], 1L),
            2 => (p[0], p[1], 1L),
            3 => (p[0], p[1], p[2]),
            _ => throw new TemplateException("range expects 1 to 3 integer arguments"),
        };
        if (step == 0) throw new TemplateException("range() arg 3 must not be zero");
        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > 100_000) throw new TemplateException($"range too big: {count} items (the sandbox allows 100000)");
        var list = new List<object?>((int)count);
        for (long i = 0; i < count; i++) list.Add(start + i * step);
        return list;
    }
}
