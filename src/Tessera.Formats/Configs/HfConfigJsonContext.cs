using System.Text.Json.Serialization;

namespace Tessera.Formats.Configs;

/// <summary>System.Text.Json source generation for the config records: no reflection at run time, so loading configs
/// works in a NativeAOT binary. Keys are the properties' names in snake_case, as Hugging Face writes them.
/// The records' properties are settable rather than init-only on purpose: the generator sets every init-only property
/// in one object initializer, so a key absent from the file got default(T) instead of the record's default (an
/// absent rescale_factor read 0, not 1/255).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    // Python's json writes NaN and Infinity for such floats; a config with them should still load.
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(LlamaConfig))]
[JsonSerializable(typeof(VitConfig))]
[JsonSerializable(typeof(ClipConfig))]
[JsonSerializable(typeof(SiglipConfig))]
[JsonSerializable(typeof(BertConfig))]
[JsonSerializable(typeof(PreprocessorConfig))]
public sealed partial class HfConfigJsonContext : JsonSerializerContext;
