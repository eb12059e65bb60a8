using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;
using Tessera.Formats.Llama2c;

namespace Tessera.Models;

/// <summary>Opens a <see cref="Llama"/> from a GGUF file (llama.cpp's tensor names and metadata) or a Hugging Face
/// directory (config.json with model.safetensors or a sharded index) or a karpathy/llama2.c .bin checkpoint.</summary>
public static class LlamaLoader
{
    /// <summary>GGUF architectures built here: those llama.cpp runs with the LLaMA graph (llama, mistral) and qwen2.</summary>
    public static IReadOnlyList<string> GgufArchitectures { get; } = ["llama", "mistral", "qwen2"];

    /// <summary>Hugging Face model types built here.</summary>
    public static IReadOnlyList<string> HfModelTypes { get; } = ["llama", "mistral", "qwen2"];

    /// <summary>Loads <paramref name="path"/>: a .gguf file or a Hugging Face model directory. <paramref name="contextLength"/>
    /// caps the positions (null: the model's own context length, at most <paramref name="maxDefaultContext"/>, so that a
    /// 128K-context model does not build 128K-row rotary tables unasked).</summary>
    public static Llama Open(IBackend backend, string path, int? contextLength = null, int maxDefaultContext = 8192)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return OpenHuggingFace(backend, path, contextLength, maxDefaultContext);
        if (!File.Exists(path)) throw new WeightFormatException(path, null, "no such file or directory");
        if (WeightFile.Detect(path) == "gguf") return OpenGguf(backend, path, contextLength, maxDefaultContext);
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return OpenLlama2c(backend, path, contextLength);
        throw new WeightFormatException(path, null, "not a GGUF file, a llama2.c .bin checkpoint or a Hugging Face model directory (config.json and safetensors)");
    }

    /// <summary>Loads a GGUF file written by llama.cpp's converter (or any writer using its names and keys).</summary>
    public static Llama OpenGguf(IBackend backend, string path, int? contextLength = null, int maxDefaultContext = 8192)
    {
        using var wb = WeightBuilder.Open(backend, new WeightBuilderOptions(Renames: WeightRenames.GgufLlama), path);
        var gguf = (GgufFile)wb.Sources[0];
        string arch = gguf.Architecture();
        if (!GgufArchitectures.Contains(arch))
            throw new WeightFormatException(path, null, $"general.architecture is '{arch}'; the LLaMA-family decoder reads {string.Join(", ", GgufArchitectures)}");
        var config = LlamaConfigFromGguf.Read(gguf);
        // The vocabulary must match the embedding's rows, or ids would index past the table or leave rows unnamed.
        if (gguf.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens) && wb.Contains("token_embd.weight"))
        {
            long rows = gguf.Info("token_embd.weight").Dims[0];
            if (rows != tokens.Length)
                throw new WeightFormatException(path, "token_embd.weight", $"has {rows} rows but the vocabulary (tokenizer.ggml.tokens) has {tokens.Length} tokens");
        }
        int? rotaryDim = gguf.TryGetArch<int>("rope.dimension_count", out int rd) ? rd : null;
        return Llama.Load(wb, config, LlamaWeightLayout.Gguf, ContextFor(config, contextLength, maxDefaultContext), rotaryDim);
    }

    /// <summary>Loads a Hugging Face directory: config.json and model.safetensors (or model.safetensors.index.json).</summary>
    public static Llama OpenHuggingFace(IBackend backend, string directory, int? contextLength = null, int maxDefaultContext = 8192)
    {
        var config = HfConfig.Load<LlamaConfig>(directory);
        if (!HfModelTypes.Contains(config.ModelType))
            throw new ConfigException(Path.Combine(directory, LlamaConfig.FileName), "model_type",
                $"is '{config.ModelType}'; the LLaMA-family decoder reads {string.Join(", ", HfModelTypes)}");
        using var wb = WeightBuilder.Open(backend, directory);
        return Llama.Load(wb, config, LlamaWeightLayout.HuggingFace, ContextFor(config, contextLength, maxDefaultContext));
    }

    /// <summary>Loads a karpathy/llama2.c legacy .bin checkpoint (its context is the header's seq_len).</summary>
    public static Llama OpenLlama2c(IBackend backend, string path, int? contextLength = null)
    {
        var file = Llama2cFile.Open(path);
        WeightBuilder wb;
        try { wb = WeightBuilder.FromSources(backend, [file]); }
        catch { file.Dispose(); throw; }
        using (wb) return Llama.Load(wb, file.Config, LlamaWeightLayout.Llama2c, contextLength ?? file.Config.MaxPositionEmbeddings);
    }

    private static int ContextFor(LlamaConfig config, int? requested, int maxDefault) =>
        requested ?? Math.Min(config.MaxPositionEmbeddings, maxDefault);
}
