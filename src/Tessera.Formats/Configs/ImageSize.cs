using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Formats.Configs;

/// <summary>An image processor's <c>size</c> or <c>crop_size</c> as Hugging Face writes it: a bare integer (older
/// files), <c>{"shortest_edge": 224}</c>, <c>{"height": 224, "width": 224}</c>, or <c>{"longest_edge": ...}</c>.</summary>
/// <param name="Height">Target height.</param>
/// <param name="Width">Target width.</param>
/// <param name="ShortestEdge">Resize so that the shorter side has this length, keeping the aspect ratio.</param>
/// <param name="LongestEdge">Resize so that the longer side has this length (alone), or caps it (with ShortestEdge).</param>
/// <param name="Value">The bare integer, when the file gave one: see <see cref="Resolve"/>.</param>
[JsonConverter(typeof(ImageSizeConverter))]
public sealed record ImageSize(int? Height = null, int? Width = null, int? ShortestEdge = null, int? LongestEdge = null, int? Value = null)
{
    /// <summary>A square size.</summary>
    public static ImageSize Square(int side) => new(Height: side, Width: side);

    /// <summary>As transformers' <c>get_size_dict</c>: a bare integer is a square when <paramref name="defaultToSquare"/>
    /// (ViT, SigLIP, crop sizes) and a shortest edge otherwise (CLIP's resize); the other forms are kept.</summary>
    public ImageSize Resolve(bool defaultToSquare) =>
        Value is not { } v ? this : defaultToSquare ? Square(v) : new ImageSize(ShortestEdge: v);
}

/// <summary>Reads the forms of <see cref="ImageSize"/>.</summary>
public sealed class ImageSizeConverter : JsonConverter<ImageSize>
{
    /// <inheritdoc/>
    public override ImageSize Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        const string expected = "expected an integer or an object with height/width, shortest_edge or longest_edge";
        if (reader.TokenType == JsonTokenType.Number)
            return reader.TryGetInt32(out int v) && v > 0 ? new ImageSize(Value: v) : throw new JsonException(expected);
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException(expected);
        int? h = null, w = null, s = null, l = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int v)) throw new JsonException($"{name}: expected an integer");
            switch (name)
            {
                case "height": h = v; break;
                case "width": w = v; break;
                case "shortest_edge": s = v; break;
                case "longest_edge": l = v; break;
            }
        }
        if (h is null != w is null) throw new JsonException("height and width come together");
        if (h is null && s is null && l is null) throw new JsonException(expected);
        return new ImageSize(h, w, s, l);
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, ImageSize value, JsonSerializerOptions options)
    {
        if (value.Value is { } v) { writer.WriteNumberValue(v); return; }
        writer.WriteStartObject();
        if (value.Height is { } h) writer.WriteNumber("height", h);
        if (value.Width is { } w) writer.WriteNumber("width", w);
        if (value.ShortestEdge is { } s) writer.WriteNumber("shortest_edge", s);
        if (value.LongestEdge is { } l) writer.WriteNumber("longest_edge", l);
        writer.WriteEndObject();
    }
}
