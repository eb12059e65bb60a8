using System.Globalization;
using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>The Jinja2 filters chat templates use, with Jinja2's arguments and quirks (indent appends a newline before
/// splitting, unique and sort ignore case by default, tojson is Hugging Face's json.dumps). An unknown filter is an
/// error naming it.</summary>
internal static class JinjaFilters
{
    public static object? Apply(JinjaRenderer r, string name, object? v, JinjaArgs a)
    {
        switch (name)
        {
            case "default" or "d":
                bool boolean = JinjaValues.Truthy(a.Get(1, "boolean", false));
                return v is JinjaUndefined || (boolean && !JinjaValues.Truthy(v)) ? a.Get(0, "default_value", "") : v;
            case "tojson": return ToJson(v, a);
            case "safe": return v;
            case "string": return JinjaValues.Str(v);
            case "length" or "count": return JinjaValues.Length(v);
            case "trim": return PyStrings.Strip(JinjaValues.Str(v), a.Get(0, "chars") as string);
            case "upper": return JinjaValues.Str(v).ToUpperInvariant();
            case "lower": return JinjaValues.Str(v).ToLowerInvariant();
            case "capitalize": return PyStrings.Capitalize(JinjaValues.Str(v));
            case "title": return Title(JinjaValues.Str(v));
            case "replace":
                return PyStrings.Replace(JinjaValues.Str(v), JinjaValues.Str(a.Get(0, "old")), JinjaValues.Str(a.Get(1, "new")),
                    a.Get(2, "count") is { } c ? JinjaValues.ToLong(c) : -1);
            case "join":
                var parts = JinjaValues.Iterate(v).Select(x => a.Get(1, "attribute") is { } at ? JinjaRenderer.GetItemPath(x, at) : x);
                return string.Join(JinjaValues.Str(a.Get(0, "d", "")), parts.Select(JinjaValues.Str));
            case "first":
                var seq = JinjaValues.Iterate(v);
                return seq.Count > 0 ? seq[0] : new JinjaUndefined("No first item, sequence was empty.");
            case "last":
                if (v is JinjaIterable { IsGenerator: true }) throw new TemplateException("'generator' object is not reversible");
                var all = JinjaValues.Iterate(v);
                return all.Count > 0 ? all[^1] : new JinjaUndefined("No last item, sequence was empty.");
            case "list": return JinjaValues.Iterate(v).ToList();
            case "items":
                return v switch
                {
                    OrderedDictionary<string, object?> d => JinjaIterable.Generator(d.Select(kv => (object?)new object?[] { kv.Key, kv.Value })),
                    JinjaUndefined => JinjaIterable.Generator([]),
                    _ => throw new TemplateException("Can only get item pairs from a mapping."),
                };
            case "dictsort":
                if (v is not OrderedDictionary<string, object?> dict) throw new TemplateException("dictsort needs a mapping");
                return dict.OrderBy(kv => kv.Key.ToLowerInvariant(), StringComparer.Ordinal)
                    .Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
            case "reverse":
                // Jinja returns reversed(value) where Python can (an iterator), else a reversed list.
                if (v is string s) return string.Concat(s.EnumerateRunes().Reverse().Select(x => x.ToString()));
                var reversed = JinjaValues.Iterate(v).AsEnumerable().Reverse().ToList();
                return v is List<object?> or object?[] ? new JinjaIterable(v is List<object?> ? "list_reverseiterator" : "reversed", reversed) : reversed;
            case "unique": return JinjaIterable.Generator(Unique(JinjaValues.Iterate(v), a));
            case "sort": return Sort(JinjaValues.Iterate(v), a);
            case "map": return JinjaIterable.Generator(Map(r, JinjaValues.Iterate(v), a));
            case "select" or "reject": return JinjaIterable.Generator(Select(r, JinjaValues.Iterate(v), a, name == "select", byAttribute: false));
            case "selectattr" or "rejectattr": return JinjaIterable.Generator(Select(r, JinjaValues.Iterate(v), a, name == "selectattr", byAttribute: true));
            case "indent": return Indent(JinjaValues.Str(v), a);
            case "escape" or "e" or "forceescape": return Escape(JinjaValues.Str(v));
            case "int": return ToInt(v, a);
            case "float": return ToFloat(v, a);
            case "abs":
                if (!JinjaValues.IsNumber(v)) throw new TemplateException($"bad operand type for abs(): '{JinjaValues.TypeName(v)}'");
                return v is double dv ? Math.Abs(dv) : (object)Math.Abs(JinjaValues.ToLong(v));
            case "round": return Round(v, a);
            case "batch": return JinjaIterable.Generator(Batch(JinjaValues.Iterate(v), a));
            case "attr": return JinjaRenderer.GetAttr(v, JinjaValues.Str(a.Get(0, "name")));
            case "min" or "max":
                var xs = JinjaValues.Iterate(v);
                if (xs.Count == 0) return new JinjaUndefined($"No aggregated item, sequence was empty.");
                var best = xs[0];
                foreach (var x in xs.Skip(1))
                {
                    int cmp = JinjaValues.PyCompare(SortKey(x, a), SortKey(best, a), "<");
                    if (name == "min" ? cmp < 0 : cmp > 0) best = x;
                }
                return best;
            case "sum":
                object? total = a.Get(1, "start", 0L);
                foreach (var x in JinjaValues.Iterate(v))
                    total = JinjaArithmetic.Binary("+", total, a.Get(0, "attribute") is { } at2 ? JinjaRenderer.GetItemPath(x, at2) : x);
                return total;
            case "format":
                if (a.Named.Count > 0) throw new TemplateException("unsupported construct: format() with keyword arguments");
                return PyFormat.Percent(JinjaValues.Str(v), a.Positional);
            case "center":
                string text = JinjaValues.Str(v);
                int centered = Width(JinjaValues.ToLong(a.Get(0, "width", 80L)), "center"), pad = centered - text.Length;
                if (pad <= 0) return text;
                int left = pad / 2 + (pad & centered & 1);
                return new string(' ', left) + text + new string(' ', pad - left);
            case "wordcount": return (long)PyStrings.Split(JinjaValues.Str(v), null, -1).Count;
            default: throw new TemplateException($"unsupported construct: no filter named '{name}'");
        }
    }

    /// <summary>A width that makes a string of that many characters: refused past 100000 (no giant allocation).</summary>
    internal static int Width(long width, string what) =>
        width > 100_000 ? throw new TemplateException($"{what} width {width} is too large") : (int)Math.Max(0, width);

    // Hugging Face's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) = json.dumps(...).
    private static string ToJson(object? v, JinjaArgs a)
    {
        bool ensureAscii = JinjaValues.Truthy(a.Get(0, "ensure_ascii", false));
        string? indent = a.Get(1, "indent") switch
        {
            null => null,
            string s => s,
            var n when JinjaValues.IsNumber(n) => new string(' ', Width(JinjaValues.ToLong(n), "tojson indent")),
            var other => throw new TemplateException($"tojson: indent must be a number or a string, not {JinjaValues.TypeName(other)}"),
        };
        string item = indent is null ? ", " : ",", key = ": ";
        if (a.Get(2, "separators") is { } seps)
        {
            var pair = JinjaValues.Iterate(seps);
            if (pair.Count != 2 || pair[0] is not string i || pair[1] is not string k)
                throw new TemplateException("tojson: separators must be a pair of strings");
            (item, key) = (i, k);
        }
        return PyJson.Dumps(v, new PyJson.Options(ensureAscii, indent, item, key, JinjaValues.Truthy(a.Get(3, "sort_keys", false))));
    }

    // Jinja's title: each run between separators (whitespace, -, (, {, [, <) gets its first char upper, the rest lower.
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool atStart = true;
        foreach (char c in s)
        {
            bool separator = PyStrings.IsSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(separator ? c : atStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            atStart = separator;
        }
        return sb.ToString();
    }

    private static object? SortKey(object? x, JinjaArgs a, int attributeIndex = 1, bool? caseSensitive = null)
    {
        if (a.Get(attributeIndex, "attribute") is { } at) x = JinjaRenderer.GetItemPath(x, at);
        bool sensitive = caseSensitive ?? JinjaValues.Truthy(a.Get(0, "case_sensitive", false));
        return !sensitive && x is string s ? s.ToLowerInvariant() : x;
    }

    private static List<object?> Unique(IReadOnlyList<object?> items, JinjaArgs a)
    {
        bool sensitive = JinjaValues.Truthy(a.Get(0, "case_sensitive", false));
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var x in items)
        {
            var key = SortKey(x, a, attributeIndex: 1, caseSensitive: sensitive);
            if (seen.Any(k => JinjaValues.PyEquals(k, key))) continue;
            seen.Add(key);
            result.Add(x);
        }
        return result;
    }

    private static List<object?> Sort(IReadOnlyList<object?> items, JinjaArgs a)
    {
        bool reverse = JinjaValues.Truthy(a.Get(0, "reverse", false));
        bool sensitive = JinjaValues.Truthy(a.Get(1, "case_sensitive", false));
        var keyed = items.Select(x => (Key: SortKey(x, a, attributeIndex: 2, caseSensitive: sensitive), Item: x)).ToList();
        // A stable sort, as Python's sorted().
        var sorted = keyed.Select((k, i) => (k.Key, k.Item, i)).ToList();
        sorted.Sort((p, q) =>
        {
            int c = JinjaValues.PyCompare(p.Key, q.Key, "<");
            if (reverse) c = -c;
            return c != 0 ? c : p.i.CompareTo(q.i);
        });
        return sorted.Select(s => s.Item).ToList();
    }

    private static List<object?> Map(JinjaRenderer r, IReadOnlyList<object?> items, JinjaArgs a)
    {
        if (a.Named.TryGetValue("attribute", out var attribute))
        {
            var fallback = a.Named.GetValueOrDefault("default");
            bool hasDefault = a.Named.ContainsKey("default");
            return items.Select(x =>
            {
                var value = JinjaRenderer.GetItemPath(x, attribute);
                return hasDefault && value is JinjaUndefined ? fallback : value;
            }).ToList();
        }
        if (a.Positional.Count == 0) throw new TemplateException("map needs a filter name or attribute=");
        string filter = JinjaValues.Str(a.Positional[0]);
        var rest = new JinjaArgs(a.Positional.Skip(1).ToList(), a.Named);
        return items.Select(x => Apply(r, filter, x, rest)).ToList();
    }

    private static List<object?> Select(JinjaRenderer r, IReadOnlyList<object?> items, JinjaArgs a, bool keep, bool byAttribute)
    {
        int at = byAttribute ? 1 : 0;
        object? attribute = byAttribute ? a.Get(0, "attribute") : null;
        string? test = a.Positional.Count > at ? JinjaValues.Str(a.Positional[at]) : null;
        var testArgs = new JinjaArgs(a.Positional.Skip(at + 1).ToList(), new Dictionary<string, object?>());
        var result = new List<object?>();
        foreach (var x in items)
        {
            var value = byAttribute ? JinjaRenderer.GetItemPath(x, attribute) : x;
            bool ok = test is null ? JinjaValues.Truthy(value) : JinjaTests.Apply(r, test, value, testArgs);
            if (ok == keep) result.Add(x);
        }
        return result;
    }

    // Jinja 3.1's indent: s + "\n" is split into lines; lines after the first (and the first with first=True) get
    // the indent unless blank (blank=True indents those too).
    private static string Indent(string s, JinjaArgs a)
    {
        var width = a.Get(0, "width", 4L);
        string indent = width is string w ? w : new string(' ', Width(JinjaValues.ToLong(width), "indent"));
        bool first = JinjaValues.Truthy(a.Get(1, "first", false));
        bool blank = JinjaValues.Truthy(a.Get(2, "blank", false));
        var lines = PyStrings.SplitLines(s + "\n");
        string rv;
        if (blank) rv = string.Join("\n" + indent, lines);
        else
        {
            rv = lines[0];
            if (lines.Count > 1) rv += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indent + l : l));
        }
        return first ? indent + rv : rv;
    }

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    private static object? ToInt(object? v, JinjaArgs a)
    {
        var fallback = a.Get(0, "default", 0L);
        switch (v)
        {
            case bool or long or int: return JinjaValues.ToLong(v);
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                int radix = (int)JinjaValues.ToLong(a.Get(1, "base", 10L));
                string t = PyStrings.Strip(s, null).Replace("_", "");
                if (radix == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                if (radix == 16 && long.TryParse(t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? t[2..] : t,
                        NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long h)) return h;
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f)) return (long)Math.Truncate(f);
                return fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? v, JinjaArgs a)
    {
        var fallback = a.Get(0, "default", 0.0);
        return v switch
        {
            bool or long or int or double => JinjaValues.ToDouble(v),
            string s when double.TryParse(PyStrings.Strip(s, null), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
            _ => fallback,
        };
    }

    private static object? Round(object? v, JinjaArgs a)
    {
        int precision = (int)JinjaValues.ToLong(a.Get(0, "precision", 0L));
        string method = JinjaValues.Str(a.Get(1, "method", "common"));
        double x = JinjaValues.ToDouble(v);
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new TemplateException("method must be common, ceil or floor"),
        };
    }

    private static List<object?> Batch(IReadOnlyList<object?> items, JinjaArgs a)
    {
        int size = (int)JinjaValues.ToLong(a.Get(0, "linecount"));
        if (size <= 0) throw new TemplateException("batch: the line count must be positive");
        bool fill = a.Has(1, "fill_with");
        var result = new List<object?>();
        for (int i = 0; i < items.Count; i += size)
        {
            var chunk = items.Skip(i).Take(size).ToList();
            while (fill && chunk.Count < size) chunk.Add(a.Get(1, "fill_with"));
            result.Add(chunk);
        }
        return result;
    }
}
