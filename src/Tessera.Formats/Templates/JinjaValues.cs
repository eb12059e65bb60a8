using System.Globalization;
using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Jinja2's default Undefined: prints as nothing, is false, iterates as empty, and raises when an attribute of it
/// is read or it takes part in arithmetic. <see cref="Message"/> is the error Jinja2 would raise.</summary>
internal sealed class JinjaUndefined(string message)
{
    public string Message { get; } = message;

    public static JinjaUndefined Named(string name) => new($"'{name}' is undefined");

    public static JinjaUndefined Attribute(object? owner, string name) => new($"{Owner(owner)} has no attribute '{name}'");

    public static JinjaUndefined Element(object? owner, object? key) => new($"{Owner(owner)} has no element {JinjaValues.Repr(key)}");

    // Jinja2's object_type_repr: 'None' for None, else "'list object'".
    private static string Owner(object? owner) => owner is null ? "'None'" : $"'{JinjaValues.TypeName(owner)} object'";

    public override string ToString() => "";
}

/// <summary>What <c>namespace(...)</c> makes: an object whose attributes <c>{% set ns.x = ... %}</c> may assign from
/// inside a loop (Jinja's way out of loop scoping).</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>The arguments of a call: positional, then keyword.</summary>
internal sealed record JinjaArgs(IReadOnlyList<object?> Positional, IReadOnlyDictionary<string, object?> Named)
{
    public static readonly JinjaArgs Empty = new([], new Dictionary<string, object?>());

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null) =>
        index < Positional.Count ? Positional[index] : Named.TryGetValue(name, out var v) ? v : fallback;

    public bool Has(int index, string name) => index < Positional.Count || Named.ContainsKey(name);
}

/// <summary>A callable value: a global function (<c>raise_exception</c>, <c>namespace</c>), a bound method
/// (<c>text.strip</c>, <c>dict.get</c>), a macro or <c>caller</c>.</summary>
internal sealed class JinjaFunction(string name, Func<JinjaArgs, object?> invoke)
{
    public string Name { get; } = name;
    public object? Invoke(JinjaArgs args) => invoke(args);
    public override string ToString() => $"<function {Name}>";
}

/// <summary>Python semantics of the values a template sees: None (null), bool, int (long), float (double), str, list
/// (<see cref="List{T}"/>), tuple (object?[]), dict (<see cref="OrderedDictionary{TKey, TValue}"/> with string keys,
/// insertion ordered as Python's), plus <see cref="JinjaUndefined"/>, <see cref="JinjaNamespace"/> and
/// <see cref="JinjaFunction"/>.</summary>
internal static class JinjaValues
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long or int => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        OrderedDictionary<string, object?> => "dict",
        JinjaNamespace => "Namespace",
        JinjaFunction => "function",
        JinjaUndefined => "Undefined",
        JinjaIterable i => i.TypeName,
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is long or double or bool or int;

    public static bool Truthy(object? v) => v switch
    {
        null or JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        int i => i != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] t => t.Length > 0,
        OrderedDictionary<string, object?> d => d.Count > 0,
        JinjaIterable { IsGenerator: false } i => i.Count > 0,
        _ => true,
    };

    /// <summary>Python's str(): what <c>{{ v }}</c> prints.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        JinjaUndefined => "",
        _ => Repr(v),
    };

    /// <summary>Python's repr(): how values print inside lists and dicts.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case null: sb.Append("None"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case int i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(PyFloat.Repr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case JinjaUndefined: sb.Append("Undefined"); break;
            case List<object?> list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, list[i]);
                }
                sb.Append(']');
                break;
            case object?[] tuple:
                sb.Append('(');
                for (int i = 0; i < tuple.Length; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, tuple[i]);
                }
                sb.Append(tuple.Length == 1 ? ",)" : ")");
                break;
            case OrderedDictionary<string, object?> dict:
                sb.Append('{');
                bool first = true;
                foreach (var (k, value) in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendStringRepr(sb, k);
                    sb.Append(": ");
                    AppendRepr(sb, value);
                }
                sb.Append('}');
                break;
            case JinjaNamespace ns:
                sb.Append("<Namespace {");
                bool firstAttr = true;
                foreach (var (k, value) in ns.Attributes)
                {
                    if (!firstAttr) sb.Append(", ");
                    firstAttr = false;
                    AppendStringRepr(sb, k);
                    sb.Append(": ");
                    AppendRepr(sb, value);
                }
                sb.Append("}>");
                break;
            case JinjaIterable { IsGenerator: true } g: sb.Append('<').Append(g.TypeName).Append(" object>"); break;
            case JinjaIterable view:
                sb.Append(view.TypeName).Append('(');
                AppendRepr(sb, view.Peek());
                sb.Append(')');
                break;
            default: sb.Append(v.ToString()); break;
        }
    }

    // Python picks single quotes unless the text holds a single quote and no double quote; it escapes what is not
    // printable (str.isprintable) as \xNN, \uNNNN or \UNNNNNNNN.
    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (IsPrintable(rune)) sb.Append(rune.ToString());
            else if (c < 0x100) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c < 0x10000) sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
        }
        sb.Append(quote);
    }

    private static bool IsPrintable(Rune r)
    {
        if (r.Value == ' ') return true;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Python's ==.</summary>
    public static bool PyEquals(object? a, object? b)
    {
        if (a is JinjaUndefined || b is JinjaUndefined) return a is JinjaUndefined && b is JinjaUndefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return ToLong(a) == ToLong(b);
        }
        switch (a)
        {
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case List<object?> la: return b is List<object?> lb && SequenceEquals(la, lb);
            case object?[] ta: return b is object?[] tb && SequenceEquals(ta, tb);
            case OrderedDictionary<string, object?> da:
                if (b is not OrderedDictionary<string, object?> db || da.Count != db.Count) return false;
                foreach (var (k, v) in da)
                    if (!db.TryGetValue(k, out var w) || !PyEquals(v, w)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static bool SequenceEquals(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!PyEquals(a[i], b[i])) return false;
        return true;
    }

    /// <summary>Python's ordering (&lt; &gt;): numbers, strings by code point, lists and tuples item by item.</summary>
    public static int PyCompare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return ToLong(a).CompareTo(ToLong(b));
        }
        if (a is string sa && b is string sb) return CompareCodePoints(sa, sb);
        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var la = (IReadOnlyList<object?>)a;
            var lb = (IReadOnlyList<object?>)b;
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!PyEquals(la[i], lb[i])) return PyCompare(la[i], lb[i], op);
            return la.Count.CompareTo(lb.Count);
        }
        throw new TemplateException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    private static int CompareCodePoints(string a, string b)
    {
        var ea = a.EnumerateRunes();
        var eb = b.EnumerateRunes();
        while (true)
        {
            bool ha = ea.MoveNext(), hb = eb.MoveNext();
            if (!ha || !hb) return ha ? 1 : hb ? -1 : 0;
            int c = ea.Current.Value.CompareTo(eb.Current.Value);
            if (c != 0) return c;
        }
    }

    public static long ToLong(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        int i => i,
        double d => (long)d,
        _ => throw new TemplateException($"expected a number, got {TypeName(v)}"),
    };

    public static double ToDouble(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        int i => i,
        double d => d,
        _ => throw new TemplateException($"expected a number, got {TypeName(v)}"),
    };

    /// <summary>Python's iter(): list and tuple items, a string's characters, a dict's keys; Undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => t,
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
        OrderedDictionary<string, object?> d => d.Keys.Select(k => (object?)k).ToList(),
        JinjaUndefined => [],
        JinjaIterable i => i.Take(),
        _ => throw new TemplateException($"'{TypeName(v)}' object is not iterable"),
    };

    public static bool IsIterable(object? v) =>
        v is string or List<object?> or object?[] or OrderedDictionary<string, object?> or JinjaUndefined or JinjaIterable;

    /// <summary>Python's len().</summary>
    public static long Length(object? v) => v switch
    {
        string s => s.EnumerateRunes().Count(),
        List<object?> l => l.Count,
        object?[] t => t.Length,
        OrderedDictionary<string, object?> d => d.Count,
        JinjaUndefined => 0,
        JinjaIterable i => i.Count,
        _ => throw new TemplateException($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary>A Python index (negative counts from the end) into a sequence of <paramref name="count"/>; false when it
    /// is out of range or not an integer (Jinja then gives Undefined).</summary>
    public static bool TryIndex(object? key, int count, out int index)
    {
        index = 0;
        if (key is not (long or int or bool)) return false;
        long i = ToLong(key);
        if (i < 0) i += count;
        if (i < 0 || i >= count) return false;
        index = (int)i;
        return true;
    }
}

/// <summary>What Jinja2's map, select, reject, selectattr, rejectattr, unique, batch and items filters return (a
/// generator: always true, no len(), not JSON, empty after one pass) and what dict.items/keys/values return (a view:
/// sized, not indexable, not JSON). Templates usually pipe them through <c>|list</c>; when they do not, the differences
/// show, so they are kept.</summary>
internal sealed class JinjaIterable(string typeName, List<object?> items)
{
    private bool _consumed;

    /// <summary>generator (or another one-pass iterator type), dict_items, dict_keys or dict_values.</summary>
    public string TypeName { get; } = typeName;

    public bool IsGenerator => TypeName is not ("dict_items" or "dict_keys" or "dict_values");

    public int Count => IsGenerator ? throw new TemplateException($"object of type '{TypeName}' has no len()") : items.Count;

    public List<object?> Take()
    {
        if (!IsGenerator) return items;
        if (_consumed) return [];
        _consumed = true;
        return items;
    }

    public List<object?> Peek() => IsGenerator && _consumed ? [] : items;

    public static JinjaIterable Generator(IEnumerable<object?> items) => new("generator", items.ToList());
}
