using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Formats.Templates;

/// <summary>Turns .NET values into the values a template sees: null, bool, integers, floating point, strings,
/// <see cref="JsonElement"/> and <see cref="JsonNode"/> (so tool schemas can come straight from JSON), dictionaries with
/// string keys (order kept) and sequences. Anything else is an error naming its type.</summary>
public static class TemplateValues
{
    /// <summary>The template value of <paramref name="value"/>.</summary>
    public static object? From(object? value) => value switch
    {
        null => null,
        bool or long or string => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        double d => d,
        float f => (double)f,
        decimal m => (double)m,
        JsonElement e => FromJson(e),
        JsonNode n => FromJsonNode(n),
        OrderedDictionary<string, object?> d => Map(d),
        IEnumerable<KeyValuePair<string, object?>> d => Map(d),
        IEnumerable<KeyValuePair<string, string>> d => Map(d.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value))),
        object?[] t when t.GetType() == typeof(object[]) => t.Select(From).ToArray(),
        IEnumerable e => e.Cast<object?>().Select(From).ToList(),
        _ => throw new TemplateException($"a value of type {value.GetType().Name} cannot be passed to a template "
            + "(use strings, numbers, bools, lists, dictionaries or JSON)"),
    };

    private static OrderedDictionary<string, object?> Map(IEnumerable<KeyValuePair<string, object?>> pairs)
    {
        var d = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in pairs) d[k] = From(v);
        return d;
    }

    /// <summary>JSON as Python's json.loads gives it: integers stay integers, other numbers are floats.</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) && !e.GetRawText().AsSpan().ContainsAny(".eE") ? (object)l : e.GetDouble(),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => ObjectFromJson(e),
        _ => throw new TemplateException($"unexpected JSON value kind {e.ValueKind}"),
    };

    private static object? FromJsonNode(JsonNode n)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer)) n.WriteTo(writer);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return FromJson(doc.RootElement);
    }

    private static OrderedDictionary<string, object?> ObjectFromJson(JsonElement e)
    {
        var d = new OrderedDictionary<string, object?>();
        foreach (var p in e.EnumerateObject()) d[p.Name] = FromJson(p.Value);
        return d;
    }
}
