using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;

namespace Tessera.Models.Conversion;

/// <summary>The architecture metadata llama.cpp reads for a LLaMA-family model (<c>{arch}.*</c> keys, as gguf-py's
/// writer names them), from a <see cref="LlamaConfig"/>. Llama 3 RoPE scaling is not a key but the tensor
/// <c>rope_freqs.weight</c>; linear scaling is <c>{arch}.rope.scaling.type</c> and <c>.factor</c>.</summary>
public static class LlamaGgufMetadata
{
    /// <summary>Adds the keys for <paramref name="config"/> under <paramref name="arch"/> ("llama" or "qwen2").</summary>
    public static void Add(GgufWriter w, string arch, LlamaConfig config, string name, GgufOutputType type)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(config);
        string A(string key) => arch + "." + key;
        w.Add("general.architecture", GgufValue.From(arch))
            .Add("general.name", GgufValue.From(name))
            .Add("general.file_type", GgufValue.From(GgufTensorTypes.FileType(type)));
        if (type is not (GgufOutputType.F32 or GgufOutputType.F16)) w.Add("general.quantization_version", GgufValue.From(2u));
        w.Add(A("vocab_size"), GgufValue.From((uint)config.VocabSize))
            .Add(A("context_length"), GgufValue.From((uint)config.MaxPositionEmbeddings))
            .Add(A("embedding_length"), GgufValue.From((uint)config.HiddenSize))
            .Add(A("block_count"), GgufValue.From((uint)config.NumHiddenLayers))
            .Add(A("feed_forward_length"), GgufValue.From((uint)config.IntermediateSize))
            .Add(A("attention.head_count"), GgufValue.From((uint)config.NumAttentionHeads))
            .Add(A("attention.head_count_kv"), GgufValue.From((uint)config.KvHeads))
            .Add(A("rope.freq_base"), GgufValue.From((float)config.RopeTheta))
            .Add(A("attention.layer_norm_rms_epsilon"), GgufValue.From((float)config.RmsNormEps))
            .Add(A("rope.dimension_count"), GgufValue.From((uint)config.HeadDimension));
        if (config.HeadDim is { } hd && hd != config.HiddenSize / config.NumAttentionHeads)
            w.Add(A("attention.key_length"), GgufValue.From((uint)hd)).Add(A("attention.value_length"), GgufValue.From((uint)hd));
        if (config.RopeScaling is { Kind: "linear" } linear)
            w.Add(A("rope.scaling.type"), GgufValue.From("linear")).Add(A("rope.scaling.factor"), GgufValue.From((float)linear.Factor!.Value));
        // Not a key llama.cpp's "llama" graph reads (it ignores Mistral's window); Tessera's loader does.
        if (config.SlidingWindow is { } sw && arch == "llama" && sw < config.MaxPositionEmbeddings)
            w.Add(A("attention.sliding_window"), GgufValue.From((uint)sw));
    }
}
