using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Formats.Configs;

/// <summary>Reads a token id key that Hugging Face writes either as one integer (<c>"eos_token_id": 2</c>) or as a list
/// (<c>"eos_token_id": [128001, 128009]</c>, Llama 3) into a list.</summary>
public sealed class TokenIdsConverter : JsonConverter<IReadOnlyList<int>>
{
    /// <inheritdoc/>
    public override IReadOnlyList<int> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int one)) return [one];
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected an integer or a list of integers");
        var ids = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id)) throw new JsonException("expected an integer or a list of integers");
            ids.Add(id);
        }
        return ids;
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, IReadOnlyList<int> value, JsonSerializerOptions options)
    {
        if (value.Count == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (int id in value) writer.WriteNumberValue(id);
        writer.WriteEndArray();
    }
}
