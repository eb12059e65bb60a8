using Tessera.Formats.Gguf;

namespace Tessera.Formats.Configs;

/// <summary>A <see cref="LlamaConfig"/> from a GGUF file's metadata, with the keys llama.cpp's converter writes
/// (<c>{arch}.embedding_length</c>, <c>{arch}.attention.head_count_kv</c>, ...), so that a decoder is built the same way
/// from a GGUF file as from a Hugging Face directory. Llama 3's frequency-dependent RoPE scaling is not metadata in
/// GGUF: llama.cpp's converter stores the per-frequency factors as the tensor <c>rope_freqs.weight</c>.</summary>
public static class LlamaConfigFromGguf
{
    /// <summary>Reads the config of a LLaMA-family GGUF file (any architecture that uses llama.cpp's LLaMA keys:
    /// "llama", "mistral", "qwen2", ...). Required keys missing or mistyped throw <see cref="WeightFormatException"/>
    /// naming the key; the rest take transformers' defaults.</summary>
    public static LlamaConfig Read(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        int heads = gguf.GetArch<int>("attention.head_count");
        int hidden = gguf.GetArch<int>("embedding_length");
        // vocab_size is optional in GGUF; the tokenizer's token list (or the embedding's rows) gives it otherwise.
        int vocab = gguf.TryGetArch<int>("vocab_size", out int v) ? v
            : gguf.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens) ? tokens.Length
            : gguf.Contains("token_embd.weight") ? (int)gguf.Info("token_embd.weight").Dims[0]
            : throw new WeightFormatException(gguf.Path, null, $"no {gguf.ArchKey("vocab_size")}, tokenizer.ggml.tokens or token_embd.weight to take the vocabulary size from");
        int? headDim = gguf.TryGetArch<int>("attention.key_length", out int kl) ? kl : null;
        var scaling = ReadRopeScaling(gguf);
        var config = new LlamaConfig
        {
            HiddenSize = hidden,
            IntermediateSize = gguf.GetArch<int>("feed_forward_length"),
            NumHiddenLayers = gguf.GetArch<int>("block_count"),
            NumAttentionHeads = heads,
            VocabSize = vocab,
            NumKeyValueHeads = gguf.GetArchOrDefault("attention.head_count_kv", heads),
            HeadDim = headDim,
            RmsNormEps = gguf.GetArchOrDefault("attention.layer_norm_rms_epsilon", 1e-6),
            RopeTheta = gguf.GetArchOrDefault("rope.freq_base", 10000.0),
            RopeScaling = scaling,
            MaxPositionEmbeddings = gguf.GetArchOrDefault("context_length", 2048),
            // llama.cpp reuses the token embedding when a file has no output projection.
            TieWordEmbeddings = !gguf.Contains("output.weight"),
            BosTokenId = TokenId(gguf, "tokenizer.ggml.bos_token_id") is { } bos ? [bos] : [1],
            EosTokenId = TokenId(gguf, "tokenizer.ggml.eos_token_id") is { } eos ? [eos] : [2],
            PadTokenId = TokenId(gguf, "tokenizer.ggml.padding_token_id") is { } pad ? [pad] : null,
            SlidingWindow = gguf.TryGetArch<int>("attention.sliding_window", out int sw) ? sw : null,
            ModelType = gguf.Architecture(),
        };
        foreach (var (key, problem) in config.Problems()) throw new WeightFormatException(gguf.Path, null, $"the config read from its metadata: {key} {problem}");
        return config;
    }

    // llama.cpp writes "no such token" as uint32 0xFFFFFFFF (its LLAMA_TOKEN_NULL, -1).
    private static int? TokenId(GgufFile gguf, string key) =>
        gguf.TryGet<long>(key, out long id) && id is >= 0 and < int.MaxValue ? (int)id : null;

    private static RopeScaling? ReadRopeScaling(GgufFile gguf)
    {
        if (!gguf.TryGetArch<string>("rope.scaling.type", out var type) || type is "none") return null;
        return new RopeScaling
        {
            RopeType = type,
            Factor = gguf.TryGetArch<double>("rope.scaling.factor", out double f) ? f : null,
            OriginalMaxPositionEmbeddings = gguf.TryGetArch<int>("rope.scaling.original_context_length", out int o) ? o : null,
        };
    }
}
