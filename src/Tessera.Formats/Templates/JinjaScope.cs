namespace Tessera.Formats.Templates;

/// <summary>Variables of one level: the template's top level, a macro call, one loop iteration. A <c>set</c> writes
/// into the innermost level only, so an assignment inside a loop body is gone after it (Jinja2's scoping).</summary>
internal sealed class JinjaScope(JinjaScope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public JinjaScope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
            if (s._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}

/// <summary>The <c>loop</c> variable inside a for: index, index0, revindex, revindex0, first, last, length, previtem,
/// nextitem, depth, depth0, cycle(...), and loop(children) in a recursive loop.</summary>
internal sealed class JinjaLoop(IReadOnlyList<object?> items, int depth0, Func<object?, string>? recurse)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => (long)depth0 + 1,
        "depth0" => (long)depth0,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new JinjaUndefined("there is no previous item"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new JinjaUndefined("there is no next item"),
        "cycle" => new JinjaFunction("loop.cycle", args =>
            args.Positional.Count == 0 ? throw new TemplateException("loop.cycle() needs at least one argument")
                : args.Positional[Index0 % args.Positional.Count]),
        "changed" => throw new TemplateException("unsupported construct: loop.changed"),
        _ => JinjaUndefined.Attribute(this, name),
    };

    /// <summary>A recursive loop called as <c>loop(children)</c>.</summary>
    public string Recurse(object? children) => recurse is null
        ? throw new TemplateException("loop() is only callable inside a 'recursive' for loop")
        : recurse(children);
}
