using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Generation;

/// <summary>Random JSON schemas of the OpenAI response_format subset: objects (required and optional properties,
/// additionalProperties false), arrays with item counts, strings with lengths, numbers, integers, booleans, null,
/// enums, consts, nullable types; nested up to three levels. Strings and arrays are bounded, so that a document
/// always ends within a few hundred tokens.</summary>
internal static class RandomSchema
{
    private static readonly string[] Words = ["id", "name", "age", "tags", "score", "ok", "note", "kind", "items", "x", "y z", "é"];

    public static string Generate(Random rng) => Node(rng, 0).ToJsonString();

    private static JsonObject Node(Random rng, int depth)
    {
        int pick = rng.Next(depth >= 2 ? 8 : 11);
        return pick switch
        {
            0 => new JsonObject { ["type"] = "string", ["maxLength"] = rng.Next(0, 12) },
            1 => Length(rng),
            2 => new JsonObject { ["type"] = "integer" },
            3 => new JsonObject { ["type"] = "number" },
            4 => new JsonObject { ["type"] = "boolean" },
            5 => new JsonObject { ["type"] = "null" },
            6 => Enum(rng),
            7 => rng.Next(2) == 0
                ? new JsonObject { ["const"] = Words[rng.Next(Words.Length)] }
                : new JsonObject { ["type"] = new JsonArray("integer", "null") },
            8 or 9 => Object(rng, depth),
            _ => Array(rng, depth),
        };
    }

    private static JsonObject Length(Random rng)
    {
        int min = rng.Next(0, 4);
        return new JsonObject { ["type"] = "string", ["minLength"] = min, ["maxLength"] = min + rng.Next(0, 8) };
    }

    private static JsonObject Enum(Random rng)
    {
        var values = new JsonArray();
        int n = rng.Next(1, 5);
        foreach (string w in Words.OrderBy(_ => rng.Next()).Take(n)) values.Add(w);
        if (rng.Next(3) == 0) values.Add(rng.Next(-50, 50));
        if (rng.Next(4) == 0) values.Add(null);
        return new JsonObject { ["enum"] = values };
    }

    private static JsonObject Object(Random rng, int depth)
    {
        var props = new JsonObject();
        var required = new JsonArray();
        foreach (string w in Words.OrderBy(_ => rng.Next()).Take(rng.Next(0, 4)))
        {
            props[w] = Node(rng, depth + 1);
            if (rng.Next(2) == 0) required.Add(w);
        }
        return new JsonObject { ["type"] = "object", ["properties"] = props, ["required"] = required, ["additionalProperties"] = false };
    }

    private static JsonObject Array(Random rng, int depth)
    {
        int min = rng.Next(0, 2);
        return new JsonObject { ["type"] = "array", ["items"] = Node(rng, depth + 1), ["minItems"] = min, ["maxItems"] = min + rng.Next(0, 3) };
    }
}
