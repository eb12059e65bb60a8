using System.Globalization;
using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Python's json.dumps, which Hugging Face's <c>tojson</c> filter calls: insertion-ordered keys (or sorted),
/// separators <c>", "</c> and <c>": "</c> (<c>","</c> when indenting), indent by spaces or a string, floats as Python's repr,
/// and ensure_ascii=False by default (only quotes, backslashes and control characters escaped).</summary>
internal static class PyJson
{
    public sealed record Options(bool EnsureAscii, string? Indent, string ItemSeparator, string KeySeparator, bool SortKeys);

    public static string Dumps(object? value, Options options)
    {
        var sb = new StringBuilder();
        Write(sb, value, options, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, Options o, int level)
    {
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long or int: sb.Append(Convert.ToString(v, CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFloat.Repr(d));
                break;
            case string s: WriteString(sb, s, o.EnsureAscii); break;
            case List<object?> or object?[]:
                var items = (IReadOnlyList<object?>)v;
                if (items.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < items.Count; i++)
                {
                    if (i > 0) sb.Append(o.ItemSeparator);
                    NewLine(sb, o, level + 1);
                    Write(sb, items[i], o, level + 1);
                }
                NewLine(sb, o, level);
                sb.Append(']');
                break;
            case OrderedDictionary<string, object?> dict:
                if (dict.Count == 0) { sb.Append("{}"); break; }
                IEnumerable<KeyValuePair<string, object?>> pairs = o.SortKeys ? dict.OrderBy(kv => kv.Key, StringComparer.Ordinal) : dict;
                sb.Append('{');
                bool first = true;
                foreach (var (k, value) in pairs)
                {
                    if (!first) sb.Append(o.ItemSeparator);
                    first = false;
                    NewLine(sb, o, level + 1);
                    WriteString(sb, k, o.EnsureAscii);
                    sb.Append(o.KeySeparator);
                    Write(sb, value, o, level + 1);
                }
                NewLine(sb, o, level);
                sb.Append('}');
                break;
            default:
                throw new TemplateException($"Object of type {JinjaValues.TypeName(v)} is not JSON serializable");
        }
    }

    private static void NewLine(StringBuilder sb, Options o, int level)
    {
        if (o.Indent is null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(o.Indent);
    }

    private static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
