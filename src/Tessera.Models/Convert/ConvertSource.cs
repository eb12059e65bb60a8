using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;
using Tessera.Formats.Llama2c;

namespace Tessera.Models.Conversion;

/// <summary>A checkpoint to convert: its weights under Hugging Face names, config, llama.cpp architecture, whether its
/// q/k rows need llama.cpp's permutation, and its tokenizer as <c>tokenizer.ggml.*</c> keys.</summary>
internal sealed class ConvertSource : IDisposable
{
    public required IWeightSource Weights { get; init; }
    public required LlamaConfig Config { get; init; }
    public required string ConfigPath { get; init; }
    public required string Architecture { get; init; }
    public required bool PermuteQk { get; init; }
    public required IReadOnlyList<KeyValuePair<string, GgufValue>> TokenizerKeys { get; init; }

    public static ConvertSource Open(string input, GgufConvertOptions options)
    {
        if (Directory.Exists(input)) return OpenHuggingFace(input);
        if (!File.Exists(input)) throw new TesseraException($"convert: {input}: no such file or directory");
        if (WeightFile.Detect(input) == "gguf") throw new TesseraException($"convert: {input} is already GGUF (tessera quantize changes a GGUF file's types)");
        return OpenLlama2c(input, options.Tokenizer);
    }

    private static ConvertSource OpenHuggingFace(string dir)
    {
        var config = HfConfig.Load<LlamaConfig>(dir);
        string configPath = Path.Combine(dir, LlamaConfig.FileName);
        string arch = config.ModelType switch
        {
            "llama" or "mistral" => "llama",   // convert_hf_to_gguf.py writes Mistral as "llama"
            "qwen2" => "qwen2",
            _ => throw new ConfigException(configPath, "model_type", $"is '{config.ModelType}'; the converter writes llama, mistral and qwen2"),
        };
        var tokenizer = GgufTokenizerMetadata.FromHuggingFace(dir);
        var weights = WeightFile.Open(dir);
        return new ConvertSource
        {
            Weights = weights, Config = config, ConfigPath = configPath, Architecture = arch,
            PermuteQk = arch == "llama", TokenizerKeys = tokenizer,
        };
    }

    private static ConvertSource OpenLlama2c(string path, string? tokenizerPath)
    {
        var file = Llama2cFile.Open(path);
        try
        {
            tokenizerPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, Llama2cTokenizer.DefaultFileName);
            if (!File.Exists(tokenizerPath))
                throw new TesseraException($"convert: {path}: no tokenizer at {tokenizerPath} (llama2.c's tokenizer.bin; name another with --tokenizer)");
            // llama2.c's q/k rows are Meta's, which rotate adjacent pairs as llama.cpp does: no permutation.
            return new ConvertSource
            {
                Weights = file, Config = file.Config, ConfigPath = path, Architecture = "llama", PermuteQk = false,
                TokenizerKeys = Llama2cTokenizer.GgufMetadata(tokenizerPath, file.Config.VocabSize),
            };
        }
        catch { file.Dispose(); throw; }
    }

    public void Dispose() => Weights.Dispose();
}
