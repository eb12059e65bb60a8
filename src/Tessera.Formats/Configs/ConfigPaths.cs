using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Tessera.Formats.Configs;

/// <summary>Turns a serializer error's JSON path ("$.vision_config.image_mean[1]") into what a person needs: the
/// dotted key, the value found there and the type the record expects.</summary>
internal static class ConfigPaths
{
    /// <summary>Walks <paramref name="path"/> through the document and the records' metadata together.</summary>
    public static bool TryResolve(JsonElement root, JsonTypeInfo info, string path, out string key, out JsonElement? found, out Type? expected)
    {
        key = "";
        found = root;
        expected = info.Type;
        JsonTypeInfo? current = info;
        var segments = Segments(path);
        if (segments is null || segments.Count == 0) return false;
        var shown = new System.Text.StringBuilder();
        foreach (var seg in segments)
        {
            if (seg is int index)
            {
                shown.Append('[').Append(index.ToString(CultureInfo.InvariantCulture)).Append(']');
                found = found is { ValueKind: JsonValueKind.Array } a && index < a.GetArrayLength() ? a[index] : null;
                expected = current?.ElementType;
            }
            else
            {
                string name = (string)seg;
                if (shown.Length > 0) shown.Append('.');
                shown.Append(name);
                found = found is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) ? v : null;
                expected = current?.Properties.FirstOrDefault(p => p.Name == name)?.PropertyType;
            }
            current = expected is null ? null : HfConfigJsonContext.Default.GetTypeInfo(expected);
        }
        key = shown.ToString();
        return true;
    }

    // "$.a.b[2]['c.d']" -> ["a", "b", 2, "c.d"]; null when the path has another shape.
    private static List<object>? Segments(string path)
    {
        if (!path.StartsWith('$')) return null;
        var result = new List<object>();
        int i = 1;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                int end = i + 1;
                while (end < path.Length && path[end] != '.' && path[end] != '[') end++;
                result.Add(path[(i + 1)..end]);
                i = end;
            }
            else if (i + 1 < path.Length && path[i] == '[' && path[i + 1] == '\'')
            {
                int end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0) return null;
                result.Add(path[(i + 2)..end]);
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                int end = path.IndexOf(']', i);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n)) return null;
                result.Add(n);
                i = end + 1;
            }
            else return null;
        }
        return result;
    }

    /// <summary>"a string (\"768\")", "a number (1.5)", "null", ...</summary>
    public static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => $"a string ({Short(e.GetRawText())})",
        JsonValueKind.Number => $"a number ({Short(e.GetRawText())})",
        JsonValueKind.True or JsonValueKind.False => $"a bool ({e.GetRawText()})",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => $"an array of {e.GetArrayLength()}",
        JsonValueKind.Object => "an object",
        _ => "undefined",
    };

    private static string Short(string s) => s.Length > 40 ? s[..40] + "..." : s;

    /// <summary>What a value of <paramref name="t"/> looks like in JSON.</summary>
    public static string Expected(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(int) || t == typeof(long)) return "an integer";
        if (t == typeof(double) || t == typeof(float)) return "a number";
        if (t == typeof(bool)) return "true or false";
        if (t == typeof(string)) return "a string";
        if (t == typeof(IReadOnlyList<int>)) return "an integer or a list of integers";
        if (t == typeof(IReadOnlyList<float>)) return "a list of numbers";
        if (t == typeof(ImageSize)) return "an integer or an object with height/width, shortest_edge or longest_edge";
        if (t == typeof(IReadOnlyDictionary<string, string>)) return "an object of strings";
        return "an object";
    }
}
