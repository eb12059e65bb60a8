using Tessera.Formats.Configs;

namespace Tessera.Formats.Tests;

/// <summary>Config errors name the file, the key, what it holds and what was expected.</summary>
public class ConfigErrorTests
{
    private static ConfigException Fails<T>(string json, string key, params string[] parts) where T : class, IHfConfig<T>
    {
        using var dir = new TempDir();
        string file = dir.File("config.json");
        File.WriteAllText(file, json);
        var e = Assert.Throws<ConfigException>(() => HfConfig.Load<T>(file));
        Assert.Equal(file, e.File);
        Assert.StartsWith(file + ": ", e.Message);
        Assert.Equal(key, e.Key);
        foreach (var p in parts) Assert.Contains(p, e.Message);
        return e;
    }

    private static string Llama(string replace, string with) => ConfigTests.TinyLlama.Replace(replace, with, StringComparison.Ordinal);

    [Fact]
    public void AMissingRequiredKeyIsNamedWithItsType()
    {
        Fails<LlamaConfig>(Llama("\"hidden_size\": 2048,", ""), "hidden_size", "key 'hidden_size' is missing (required: an integer)");
        Fails<VitConfig>("""{"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12}""", "intermediate_size", "is missing");
        Fails<BertConfig>("{}", "vocab_size", "is missing");
    }

    [Fact]
    public void AValueOfTheWrongTypeSaysWhatItIsAndWhatWasExpected()
    {
        Fails<LlamaConfig>(Llama("\"hidden_size\": 2048", "\"hidden_size\": \"2048\""), "hidden_size", "key 'hidden_size' is a string (\"2048\"), expected an integer", "(line 3)");
        Fails<LlamaConfig>(Llama("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": true"), "rms_norm_eps", "is a bool (true), expected a number");
        Fails<LlamaConfig>(Llama("\"num_hidden_layers\": 22", "\"num_hidden_layers\": null"), "num_hidden_layers", "is null, expected an integer");
        Fails<LlamaConfig>(Llama("\"eos_token_id\": 2", "\"eos_token_id\": \"2\""), "eos_token_id", "is a string (\"2\"), expected an integer or a list of integers");
        Fails<LlamaConfig>(Llama("\"rope_scaling\": null", "\"rope_scaling\": {\"factor\": \"x\"}"), "rope_scaling.factor", "expected a number");
        Fails<LlamaConfig>(Llama("\"num_hidden_layers\": 22", "\"num_hidden_layers\": 22.5"), "num_hidden_layers", "is a number (22.5), expected an integer");
        Fails<ClipConfig>("""{"vision_config": {"image_size": "big"}}""", "vision_config.image_size", "is a string (\"big\"), expected an integer");
        Fails<PreprocessorConfig>("""{"image_mean": [0.5, "x", 0.5]}""", "image_mean[1]", "is a string (\"x\"), expected a number");
        Fails<PreprocessorConfig>("""{"size": {"height": 224}}""", "size", "expected an integer or an object with height/width");
        Fails<PreprocessorConfig>("""{"size": "224"}""", "size", "is a string");
    }

    [Fact]
    public void NotJsonOrNotAnObjectIsSaidSo()
    {
        Fails<LlamaConfig>("{\"hidden_size\": 2048,,}", null!, "is not valid JSON (line 1");
        Fails<LlamaConfig>("[1, 2]", null!, "holds an array of 2 at the top level, expected an object");
        Fails<LlamaConfig>("", null!, "is not valid JSON");
    }

    [Fact]
    public void ValuesThatCannotDescribeAModelAreRefused()
    {
        Fails<LlamaConfig>(Llama("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 5"), "num_key_value_heads", "is 5, expected a positive divisor of num_attention_heads 32");
        Fails<LlamaConfig>(Llama("\"num_attention_heads\": 32", "\"num_attention_heads\": 0"), "num_attention_heads", "is 0, expected a positive integer");
        Fails<LlamaConfig>(Llama("\"hidden_size\": 2048", "\"hidden_size\": 2047"), "hidden_size", "not a multiple of num_attention_heads 32");
        Fails<VitConfig>("""{"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "image_size": 225}""", "image_size", "not a multiple of patch_size 16");
        Fails<PreprocessorConfig>("""{"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5]}""", "image_std", "has 2 values, image_mean has 3");
        Fails<PreprocessorConfig>("""{"image_std": [0.5, 0, 0.5]}""", "image_std", "expected positive values");
        Fails<ClipConfig>("""{"vision_config": {"hidden_size": 768, "num_attention_heads": 7}}""", "vision_config.num_attention_heads", "positive divisor of hidden_size 768");
    }

    [Fact]
    public void UnknownKeysAreIgnoredAndCommentsAndTrailingCommasTolerated()
    {
        var c = HfConfig.Parse<LlamaConfig>(Llama("\"vocab_size\": 32000", "\"vocab_size\": 32000, \"quantization_config\": {\"bits\": 4}, // a comment\n \"x\": [1,2],"));
        Assert.Equal(32000, c.VocabSize);
    }
}
