using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;
using Tessera.Formats.Llama2c;

namespace Tessera.Models;

/// <summary>Opens a <see cref="Llama"/> from a GGUF file (llama.cpp's tensor names and metadata) or a Hugging Face
/// directory (config.json with model.safetensors or a sharded index) or a karpathy/llama2.c .bin checkpoint. Before
/// anything large is allocated it checks that the weights and a KV cache for the context fit the memory available
/// (<see cref="LlamaMemoryEstimate"/>), and it can report progress while the weight files are read in.</summary>
public static class LlamaLoader
{
    // Weights stay as stored and zero-copy: f32, f16 and bf16 projections go through the matmul (f32 activations against
    // 16-bit weights, f32 out), quantized ones through the quantized matmul. Only an f16/bf16 token embedding is widened
    // to f32 (LlamaWeightSource): its rows enter the f32 residual stream. Norms and biases are loaded as f32 by the layers.

    /// <summary>GGUF architectures built here: those llama.cpp runs with the LLaMA graph (llama, mistral) and qwen2.</summary>
    public static IReadOnlyList<string> GgufArchitectures { get; } = ["llama", "mistral", "qwen2"];

    /// <summary>Hugging Face model types built here.</summary>
    public static IReadOnlyList<string> HfModelTypes { get; } = ["llama", "mistral", "qwen2"];

    /// <summary>Loads <paramref name="path"/>: a .gguf file or a Hugging Face model directory. <paramref name="contextLength"/>
    /// caps the positions (null: the model's own context length, at most <paramref name="maxDefaultContext"/>, so that a
    /// 128K-context model does not build 128K-row rotary tables unasked).</summary>
    public static Llama Open(IBackend backend, string path, int? contextLength = null, int maxDefaultContext = 8192) =>
        Open(backend, path, new LlamaLoadOptions { ContextLength = contextLength, MaxDefaultContext = maxDefaultContext });

    /// <summary>Loads <paramref name="path"/> (a .gguf file, a Hugging Face directory or a llama2.c .bin) as
    /// <paramref name="options"/> say.</summary>
    public static Llama Open(IBackend backend, string path, LlamaLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        if (Directory.Exists(path)) return OpenHuggingFace(backend, path, options);
        if (!File.Exists(path)) throw new WeightFormatException(path, null, "no such file or directory");
        if (WeightFile.Detect(path) == "gguf") return OpenGguf(backend, path, options);
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return OpenLlama2c(backend, path, options);
        throw new WeightFormatException(path, null, "not a GGUF file, a llama2.c .bin checkpoint or a Hugging Face model directory (config.json and safetensors)");
    }

    /// <summary>Loads a GGUF file written by llama.cpp's converter (or any writer using its names and keys).</summary>
    public static Llama OpenGguf(IBackend backend, string path, int? contextLength = null, int maxDefaultContext = 8192) =>
        OpenGguf(backend, path, new LlamaLoadOptions { ContextLength = contextLength, MaxDefaultContext = maxDefaultContext });

    /// <inheritdoc cref="OpenGguf(IBackend, string, int?, int)"/>
    public static Llama OpenGguf(IBackend backend, string path, LlamaLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var wb = Builder(backend, WeightFile.Open(path), WeightRenames.GgufLlama, "token_embd.weight");
        var gguf = (GgufFile)((LlamaWeightSource)wb.Sources[0]).Inner;
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
        int context = ContextFor(config, options);
        Prepare(backend, path, gguf, config, context, "token_embd.weight", options);
        return Build(wb, config, LlamaWeightLayout.Gguf, context, rotaryDim, options);
    }

    /// <summary>Loads a Hugging Face directory: config.json and model.safetensors (or model.safetensors.index.json).</summary>
    public static Llama OpenHuggingFace(IBackend backend, string directory, int? contextLength = null, int maxDefaultContext = 8192) =>
        OpenHuggingFace(backend, directory, new LlamaLoadOptions { ContextLength = contextLength, MaxDefaultContext = maxDefaultContext });

    /// <inheritdoc cref="OpenHuggingFace(IBackend, string, int?, int)"/>
    public static Llama OpenHuggingFace(IBackend backend, string directory, LlamaLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = HfConfig.Load<LlamaConfig>(directory);
        if (!HfModelTypes.Contains(config.ModelType))
            throw new ConfigException(Path.Combine(directory, LlamaConfig.FileName), "model_type",
                $"is '{config.ModelType}'; the LLaMA-family decoder reads {string.Join(", ", HfModelTypes)}");
        using var wb = Builder(backend, WeightFile.Open(directory), null, "model.embed_tokens.weight", "embed_tokens.weight");
        int context = ContextFor(config, options);
        Prepare(backend, directory, wb.Sources[0], config, context, "model.embed_tokens.weight", options);
        return Build(wb, config, LlamaWeightLayout.HuggingFace, context, null, options);
    }

    /// <summary>Loads a karpathy/llama2.c legacy .bin checkpoint (its context is the header's seq_len).</summary>
    public static Llama OpenLlama2c(IBackend backend, string path, int? contextLength = null) =>
        OpenLlama2c(backend, path, new LlamaLoadOptions { ContextLength = contextLength });

    /// <inheritdoc cref="OpenLlama2c(IBackend, string, int?)"/>
    public static Llama OpenLlama2c(IBackend backend, string path, LlamaLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var file = Llama2cFile.Open(path);
        WeightBuilder wb;
        try { wb = WeightBuilder.FromSources(backend, [file]); }
        catch { file.Dispose(); throw; }
        using (wb)
        {
            int context = options.ContextLength ?? file.Config.MaxPositionEmbeddings;
            Prepare(backend, path, file, file.Config, context, "model.embed_tokens.weight", options);
            return Build(wb, file.Config, LlamaWeightLayout.Llama2c, context, null, options);
        }
    }

    /// <summary>The tokenizer.bin a llama2.c checkpoint uses: <paramref name="tokenizer"/> when given, else the file of
    /// that name beside the checkpoint; null when there is none.</summary>
    public static string? FindLlama2cTokenizer(string checkpoint, string? tokenizer = null)
    {
        if (tokenizer is not null) return tokenizer;
        string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, Llama2cTokenizer.DefaultFileName);
        return File.Exists(beside) ? beside : null;
    }

    // A builder over the source as the decoder reads it (see LlamaWeightSource), given its stored embedding name.
    private static WeightBuilder Builder(IBackend backend, IWeightSource source, WeightRenames? renames, params string[] embeddingNames)
    {
        try
        {
            string embedding = embeddingNames.FirstOrDefault(source.Contains) ?? embeddingNames[0];
            return WeightBuilder.FromSources(backend, [new LlamaWeightSource(source, embedding)], new WeightBuilderOptions(Renames: renames));
        }
        catch { source.Dispose(); throw; }
    }

    private static Llama Build(WeightBuilder wb, LlamaConfig config, LlamaWeightLayout layout, int context, int? rotaryDim, LlamaLoadOptions options)
    {
        options.Progress?.Report(new LoadProgress("building", 0, 1));
        var model = Llama.Load(wb, config, layout, context, rotaryDim);
        options.Progress?.Report(new LoadProgress("ready", 1, 1));
        return model;
    }

    // The memory check, then (when progress is asked for) the weight files read through once, so that the mapped pages
    // are in memory when the layers touch them and the user sees the reading advance.
    private static void Prepare(IBackend backend, string model, IWeightSource weights, LlamaConfig config, int context, string embedding, LlamaLoadOptions options)
    {
        if (context <= 0) throw new TesseraException($"llama: the context length must be positive, got {context}");
        if (options.CheckMemory && backend.Device.Kind == DeviceKind.Cpu)
        {
            var estimate = LlamaMemoryEstimate.Of(weights, config, context, embedding);
            estimate.EnsureFits(model, options.AvailableMemoryBytes ?? LlamaMemoryEstimate.AvailableBytes());
        }
        if (options.Progress is not { } progress) return;
        var files = weights.Names.Select(n => weights.Info(n).File).Distinct().ToList();
        long total = files.Sum(f => new FileInfo(f).Length), done = 0;
        var buffer = new byte[4 << 20];
        progress.Report(new LoadProgress("reading", 0, total));
        foreach (var f in files)
        {
            using var fs = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            int n;
            while ((n = fs.Read(buffer)) > 0)
            {
                done += n;
                progress.Report(new LoadProgress("reading", done, total));
            }
        }
    }

    private static int ContextFor(LlamaConfig config, LlamaLoadOptions options) =>
        options.ContextLength ?? Math.Min(config.MaxPositionEmbeddings, options.MaxDefaultContext);
}
