using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Models.Generation.Constraints;

/// <summary>Compiles a JSON schema to GBNF, for the OpenAI <c>response_format</c> subset: <c>type</c> (object, array,
/// string, number, integer, boolean, null, or a list of them), <c>properties</c>, <c>required</c>, <c>enum</c>,
/// <c>const</c>, <c>items</c>, <c>minItems</c>/<c>maxItems</c>, <c>minLength</c>/<c>maxLength</c>, <c>anyOf</c>,
/// nested objects and <c>additionalProperties</c>. Objects are written with their properties in the schema's order
/// (required ones always, optional ones may be left out) and no other properties, which is what
/// <c>additionalProperties: false</c> asks and still valid where more are allowed. Numbers, whitespace and strings
/// follow llama.cpp's json-schema-to-grammar primitives (at most 16 integer digits, up to 20 indent characters).
/// A keyword that would restrict values beyond this (pattern, minimum, $ref ...) is an error naming it.</summary>
public static class JsonSchemaGrammar
{
    private const string Primitives = """
        space ::= | " " | "\n"{1,2} [ \t]{0,20}
        boolean ::= ("true" | "false") space
        null ::= "null" space
        integral-part ::= [0] | [1-9] [0-9]{0,15}
        decimal-part ::= [0-9]{1,16}
        integer ::= ("-"? integral-part) space
        number ::= ("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space
        char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
        string ::= "\"" char* "\"" space
        value ::= object | array | string | number | boolean | null
        object ::= "{" space ( string ":" space value ("," space string ":" space value)* )? "}" space
        array ::= "[" space ( value ("," space value)* )? "]" space
        """;

    private static readonly HashSet<string> Annotations =
        ["$schema", "$id", "title", "description", "default", "examples", "$comment", "strict", "name", "schema"];

    /// <summary>The GBNF text for <paramref name="schemaJson"/>; the document rule is <c>root</c>.</summary>
    public static string ToGbnf(string schemaJson)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(schemaJson); }
        catch (JsonException e) { throw new TesseraException($"JSON schema: not valid JSON ({e.Message})"); }
        using (doc)
        {
            var rules = new StringBuilder();
            int counter = 0;
            string root = Visit(doc.RootElement, "#", rules, ref counter);
            return $"root ::= {root}\n{rules}{Primitives.Replace("\r", "")}\n";
        }
    }

    private static string Visit(JsonElement s, string path, StringBuilder rules, ref int counter)
    {
        if (s.ValueKind == JsonValueKind.True) return "value";
        if (s.ValueKind != JsonValueKind.Object) throw new TesseraException($"JSON schema: {path} must be an object, got {s.ValueKind}");
        foreach (var p in s.EnumerateObject())
            if (!Annotations.Contains(p.Name) && p.Name is not ("type" or "properties" or "required" or "enum" or "const" or "items"
                    or "additionalProperties" or "minItems" or "maxItems" or "minLength" or "maxLength" or "anyOf" or "oneOf"))
                throw new TesseraException($"JSON schema: {path}: the keyword '{p.Name}' is not supported");
        string name = $"r{counter++}";
        string body;
        if (s.TryGetProperty("const", out var c)) body = Literal(c) + " space";
        else if (s.TryGetProperty("enum", out var e))
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0)
                throw new TesseraException($"JSON schema: {path}/enum must be a non-empty array");
            body = "(" + string.Join(" | ", e.EnumerateArray().Select(Literal)) + ") space";
        }
        else if (s.TryGetProperty("anyOf", out var any) || s.TryGetProperty("oneOf", out any))
        {
            if (any.ValueKind != JsonValueKind.Array || any.GetArrayLength() == 0)
                throw new TesseraException($"JSON schema: {path}/anyOf must be a non-empty array");
            var alts = new List<string>();
            int i = 0;
            foreach (var sub in any.EnumerateArray()) alts.Add(Visit(sub, $"{path}/anyOf/{i++}", rules, ref counter));
            body = string.Join(" | ", alts);
        }
        else if (!s.TryGetProperty("type", out var type)) body = "value";
        else if (type.ValueKind == JsonValueKind.Array)
        {
            var alts = new List<string>();
            foreach (var t in type.EnumerateArray()) alts.Add(ForType(s, t, path, rules, ref counter));
            if (alts.Count == 0) throw new TesseraException($"JSON schema: {path}/type is an empty list");
            body = string.Join(" | ", alts);
        }
        else body = ForType(s, type, path, rules, ref counter);
        rules.Append(name).Append(" ::= ").Append(body).Append('\n');
        return name;
    }

    private static string ForType(JsonElement s, JsonElement type, string path, StringBuilder rules, ref int counter)
    {
        if (type.ValueKind != JsonValueKind.String) throw new TesseraException($"JSON schema: {path}/type must be a string or a list of them");
        return type.GetString() switch
        {
            "string" => StringRule(s, path),
            "number" => "number",
            "integer" => "integer",
            "boolean" => "boolean",
            "null" => "null",
            "object" => ObjectRule(s, path, rules, ref counter),
            "array" => ArrayRule(s, path, rules, ref counter),
            var t => throw new TesseraException($"JSON schema: {path}: unknown type '{t}'"),
        };
    }

    private static string StringRule(JsonElement s, string path)
    {
        int min = Count(s, "minLength", path, 0), max = Count(s, "maxLength", path, -1);
        if (min == 0 && max < 0) return "string";
        if (max >= 0 && max < min) throw new TesseraException($"JSON schema: {path}: maxLength {max} is below minLength {min}");
        return $"\"\\\"\" char{{{min},{(max < 0 ? "" : max.ToString(CultureInfo.InvariantCulture))}}} \"\\\"\" space";
    }

    private static string ArrayRule(JsonElement s, string path, StringBuilder rules, ref int counter)
    {
        string item = s.TryGetProperty("items", out var items) ? Visit(items, path + "/items", rules, ref counter) : "value";
        int min = Count(s, "minItems", path, 0), max = Count(s, "maxItems", path, -1);
        if (max >= 0 && max < min) throw new TesseraException($"JSON schema: {path}: maxItems {max} is below minItems {min}");
        if (max == 0) return "\"[\" space \"]\" space";
        string more = max < 0 ? "*" : $"{{{Math.Max(min - 1, 0)},{max - 1}}}";
        if (max < 0 && min > 1) more = $"{{{min - 1},}}";
        string list = $"{item} (\",\" space {item}){more}";
        return min == 0 ? $"\"[\" space ({list})? \"]\" space" : $"\"[\" space {list} \"]\" space";
    }

    private static string ObjectRule(JsonElement s, string path, StringBuilder rules, ref int counter)
    {
        var required = new HashSet<string>();
        if (s.TryGetProperty("required", out var req))
        {
            if (req.ValueKind != JsonValueKind.Array) throw new TesseraException($"JSON schema: {path}/required must be an array");
            foreach (var r in req.EnumerateArray()) required.Add(r.GetString() ?? "");
        }
        if (s.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind is not (JsonValueKind.False or JsonValueKind.True or JsonValueKind.Object))
            throw new TesseraException($"JSON schema: {path}/additionalProperties must be a boolean or a schema");
        var props = new List<(string Kv, bool Required)>();
        if (s.TryGetProperty("properties", out var properties))
        {
            if (properties.ValueKind != JsonValueKind.Object) throw new TesseraException($"JSON schema: {path}/properties must be an object");
            foreach (var p in properties.EnumerateObject())
            {
                string value = Visit(p.Value, $"{path}/properties/{p.Name}", rules, ref counter);
                props.Add(($"{Literal(Compact(w => w.WriteStringValue(p.Name)))} space \":\" space {value}", required.Remove(p.Name)));
            }
        }
        if (required.Count > 0)
            throw new TesseraException($"JSON schema: {path}: required property '{required.First()}' is not in properties");
        if (props.Count == 0) return "\"{\" space \"}\" space";
        // first_i: properties i.. with nothing written yet; rest_i: the same after something was (each one then starts
        // with a comma). An optional property is an alternative between writing it and skipping it.
        string id = $"r{counter++}";
        for (int i = props.Count - 1; i >= 0; i--)
        {
            var (kv, isRequired) = props[i];
            string nextFirst = i + 1 < props.Count ? $" {id}-first{i + 1}" : "";
            string nextRest = i + 1 < props.Count ? $" {id}-rest{i + 1}" : "";
            string first = $"{kv}{nextRest}", rest = $"\",\" space {kv}{nextRest}";
            if (!isRequired)
            {
                first = $"{first} | {(nextFirst.Length > 0 ? nextFirst.Trim() : "\"\"")}";
                rest = $"{rest} | {(nextRest.Length > 0 ? nextRest.Trim() : "\"\"")}";
            }
            rules.Append($"{id}-first{i} ::= {first}\n{id}-rest{i} ::= {rest}\n");
        }
        return $"\"{{\" space {id}-first0 \"}}\" space";
    }

    private static int Count(JsonElement s, string key, string path, int absent)
    {
        if (!s.TryGetProperty(key, out var v)) return absent;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0 || n > 10_000)
            throw new TesseraException($"JSON schema: {path}/{key} must be a whole number from 0 to 10000");
        return n;
    }

    // A JSON value's compact text (no whitespace; non-ASCII text as itself, not as \u escapes, as a model would write it).
    private static string Compact(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) write(w);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string Literal(JsonElement value) => Literal(Compact(value.WriteTo));

    // JSON text as a GBNF string literal.
    private static string Literal(string json)
    {
        var sb = new StringBuilder("\"");
        foreach (char ch in json)
            sb.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                < ' ' => $"\\x{(int)ch:X2}",
                _ => ch.ToString(),
            });
        return sb.Append('"').ToString();
    }
}
