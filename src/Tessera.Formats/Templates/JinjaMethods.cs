using System.Globalization;

namespace Tessera.Formats.Templates;

/// <summary>The Python methods templates call on values: str (strip, split, startswith, replace, upper, ...), dict (get,
/// items, keys, values) and list (index, count). Methods that would change a value (list.append, dict.update, ...) exist,
/// as in Python, but raise when called, as in Hugging Face's immutable sandbox.</summary>
internal static class JinjaMethods
{
    private static readonly HashSet<string> DictMutators = ["pop", "popitem", "update", "setdefault", "clear", "copy", "fromkeys"];
    private static readonly HashSet<string> ListMutators = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "copy"];

    public static bool TryBind(object? target, string name, out JinjaFunction? method)
    {
        method = target switch
        {
            string s => StringMethod(s, name),
            OrderedDictionary<string, object?> d => DictMethod(d, name),
            List<object?> l => ListMethod(l, name),
            object?[] t => name switch
            {
                "index" => new JinjaFunction(name, a => IndexOf(t, a)),
                "count" => new JinjaFunction(name, a => (long)t.Count(x => JinjaValues.PyEquals(x, a.Get(0, "value")))),
                _ => null,
            },
            _ => null,
        };
        return method is not null;
    }

    private static JinjaFunction Unsafe(string type, string name) =>
        new(name, _ => throw new TemplateException($"access to attribute '{name}' of '{type}' object is unsafe (templates cannot change values)"));

    private static JinjaFunction? DictMethod(OrderedDictionary<string, object?> d, string name) => name switch
    {
        "get" => new JinjaFunction(name, a => a.Get(0, "key") is string k && d.TryGetValue(k, out var v) ? v : a.Get(1, "default")),
        "items" => new JinjaFunction(name, _ => new JinjaIterable("dict_items", d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList())),
        "keys" => new JinjaFunction(name, _ => new JinjaIterable("dict_keys", d.Keys.Select(k => (object?)k).ToList())),
        "values" => new JinjaFunction(name, _ => new JinjaIterable("dict_values", d.Values.ToList())),
        _ when DictMutators.Contains(name) => Unsafe("dict", name),
        _ => null,
    };

    private static JinjaFunction? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => new JinjaFunction(name, a => IndexOf(l, a)),
        "count" => new JinjaFunction(name, a => (long)l.Count(x => JinjaValues.PyEquals(x, a.Get(0, "value")))),
        _ when ListMutators.Contains(name) => Unsafe("list", name),
        _ => null,
    };

    private static long IndexOf(IReadOnlyList<object?> items, JinjaArgs a)
    {
        var value = a.Get(0, "value");
        for (int i = 0; i < items.Count; i++) if (JinjaValues.PyEquals(items[i], value)) return i;
        throw new TemplateException($"{JinjaValues.Repr(value)} is not in list");
    }

    private static string? OptionalString(JinjaArgs a, int index, string name) => a.Get(index, name) switch
    {
        null => null,
        string s => s,
        var v => throw new TemplateException($"{name} must be None or a string, not {JinjaValues.TypeName(v)}"),
    };

    private static string Text(object? v, string what) =>
        v as string ?? throw new TemplateException($"{what} must be a string, not {JinjaValues.TypeName(v)}");

    private static JinjaFunction? StringMethod(string s, string name) => name switch
    {
        "strip" => new JinjaFunction(name, a => PyStrings.Strip(s, OptionalString(a, 0, "chars"))),
        "lstrip" => new JinjaFunction(name, a => PyStrings.Strip(s, OptionalString(a, 0, "chars"), right: false)),
        "rstrip" => new JinjaFunction(name, a => PyStrings.Strip(s, OptionalString(a, 0, "chars"), left: false)),
        "split" => new JinjaFunction(name, a => PyStrings.Split(s, OptionalString(a, 0, "sep"), a.Has(1, "maxsplit") ? JinjaValues.ToLong(a.Get(1, "maxsplit")) : -1)),
        "splitlines" => new JinjaFunction(name, _ => PyStrings.SplitLines(s).Select(x => (object?)x).ToList()),
        "startswith" => new JinjaFunction(name, a => Affix(a.Get(0, "prefix"), p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => new JinjaFunction(name, a => Affix(a.Get(0, "suffix"), p => s.EndsWith(p, StringComparison.Ordinal))),
        "replace" => new JinjaFunction(name, a => PyStrings.Replace(s, Text(a.Get(0, "old"), "old"), Text(a.Get(1, "new"), "new"),
            a.Has(2, "count") ? JinjaValues.ToLong(a.Get(2, "count")) : -1)),
        "upper" => new JinjaFunction(name, _ => s.ToUpperInvariant()),
        "lower" => new JinjaFunction(name, _ => s.ToLowerInvariant()),
        "title" => new JinjaFunction(name, _ => PyStrings.Title(s)),
        "capitalize" => new JinjaFunction(name, _ => PyStrings.Capitalize(s)),
        "join" => new JinjaFunction(name, a => string.Join(s, JinjaValues.Iterate(a.Get(0, "iterable")).Select(x => Text(x, "join item")))),
        "find" => new JinjaFunction(name, a => (long)s.IndexOf(Text(a.Get(0, "sub"), "sub"), StringComparison.Ordinal)),
        "count" => new JinjaFunction(name, a => (long)CountOf(s, Text(a.Get(0, "sub"), "sub"))),
        "removeprefix" => new JinjaFunction(name, a => Text(a.Get(0, "prefix"), "prefix") is var p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s),
        "removesuffix" => new JinjaFunction(name, a => Text(a.Get(0, "suffix"), "suffix") is var p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s),
        "isdigit" => new JinjaFunction(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => new JinjaFunction(name, _ => s.Length > 0 && s.All(char.IsLetter)),
        "isspace" => new JinjaFunction(name, _ => s.Length > 0 && s.All(PyStrings.IsSpace)),
        "islower" => new JinjaFunction(name, _ => s.Any(char.IsLower) && !s.Any(char.IsUpper)),
        "isupper" => new JinjaFunction(name, _ => s.Any(char.IsUpper) && !s.Any(char.IsLower)),
        "format" or "format_map" => new JinjaFunction(name, _ => throw new TemplateException($"unsupported construct: str.{name}()")),
        _ => null,
    };

    private static bool Affix(object? affix, Func<string, bool> test) => affix switch
    {
        string p => test(p),
        object?[] tuple => tuple.Any(p => test(Text(p, "affix"))),
        _ => throw new TemplateException($"startswith/endswith first arg must be str or a tuple of str, not {JinjaValues.TypeName(affix)}"),
    };

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return new StringInfo(s).LengthInTextElements + 1;
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
