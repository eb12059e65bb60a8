using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Tessera.Formats.Configs;

/// <summary>Loads Hugging Face JSON configuration files into their records (<see cref="LlamaConfig"/>,
/// <see cref="VitConfig"/>, <see cref="ClipConfig"/>, <see cref="SiglipConfig"/>, <see cref="BertConfig"/>,
/// <see cref="PreprocessorConfig"/>) through System.Text.Json source generation, so it works under NativeAOT. Unknown
/// keys are ignored; a missing required key, a value of the wrong type, or values that cannot describe a model throw
/// <see cref="ConfigException"/> naming the file, the key, what it holds and what was expected.</summary>
public static class HfConfig
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Loads <paramref name="path"/>: the file itself, or <typeparamref name="T"/>'s file name
    /// ("config.json", "preprocessor_config.json") inside it when it is a model directory.</summary>
    public static T Load<T>(string path) where T : class, IHfConfig<T>
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = Directory.Exists(path) ? Path.Combine(path, T.FileName) : path;
        if (!File.Exists(file))
            throw new ConfigException(file, null, Directory.Exists(path) ? $"the model directory has no {T.FileName}" : "no such file");
        return Parse<T>(File.ReadAllBytes(file), file);
    }

    /// <summary>Reads a configuration from UTF-8 JSON; <paramref name="file"/> names it in errors.</summary>
    public static T Parse<T>(ReadOnlySpan<byte> utf8Json, string file = "config.json") where T : class, IHfConfig<T>
    {
        var info = HfConfigJsonContext.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
            ?? throw new ArgumentException($"{typeof(T).Name} is not registered in {nameof(HfConfigJsonContext)}");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(utf8Json.ToArray(), DocumentOptions); }
        catch (JsonException e) { throw new ConfigException(file, null, $"is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ConfigException(file, null, $"holds {ConfigPaths.Describe(doc.RootElement)} at the top level, expected an object");
            CheckRequired(doc.RootElement, info, "", file);
            T? result;
            try
            {
                var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
                result = JsonSerializer.Deserialize(ref reader, info);
            }
            catch (JsonException e) { throw Mismatch(e, doc.RootElement, info, file); }
            result = (result ?? throw new ConfigException(file, null, "holds null")).Resolved();
            foreach (var (key, problem) in result.Problems()) throw new ConfigException(file, key, problem);
            return result;
        }
    }

    /// <summary>Reads a configuration from a JSON string.</summary>
    public static T Parse<T>(string json, string file = "config.json") where T : class, IHfConfig<T> =>
        Parse<T>(System.Text.Encoding.UTF8.GetBytes(json), file);

    // Required keys are checked before deserializing, so that the error names the key and its type (the serializer's
    // own message names the CLR type and lists property names only).
    private static void CheckRequired(JsonElement obj, JsonTypeInfo info, string prefix, string file)
    {
        foreach (var p in info.Properties)
        {
            bool present = obj.TryGetProperty(p.Name, out var value);
            if (!present && p.IsRequired)
                throw new ConfigException(file, prefix + p.Name, $"is missing (required: {ConfigPaths.Expected(p.PropertyType)})");
            if (present && value.ValueKind == JsonValueKind.Object && HfConfigJsonContext.Default.GetTypeInfo(p.PropertyType) is { Kind: JsonTypeInfoKind.Object } nested)
                CheckRequired(value, nested, prefix + p.Name + ".", file);
        }
    }

    private static ConfigException Mismatch(JsonException e, JsonElement root, JsonTypeInfo info, string file)
    {
        string line = e.LineNumber is { } l ? $" (line {l + 1})" : "";
        if (e.Path is not { } path || !ConfigPaths.TryResolve(root, info, path, out string key, out var found, out var expectedType))
            return new ConfigException(file, null, $"cannot be read: {e.Message}", e);
        string expected = expectedType is null ? "something else" : ConfigPaths.Expected(expectedType);
        return new ConfigException(file, key, $"is {(found is { } f ? ConfigPaths.Describe(f) : "malformed")}, expected {expected}{line}", e);
    }
}
