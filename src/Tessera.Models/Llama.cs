using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models;

/// <summary>How a checkpoint's q and k projections expect RoPE to pair channels. Hugging Face LLaMA rotates the two
/// halves of a head; llama.cpp's converter permutes the q/k rows of "llama"-architecture models so that its RoPE rotates
/// adjacent pairs, while its "qwen2" architecture keeps Hugging Face's rows and rotates halves (llama.cpp's NEOX rope).</summary>
public enum LlamaWeightLayout
{
    /// <summary>Hugging Face safetensors: rotate-half RoPE.</summary>
    HuggingFace,
    /// <summary>A GGUF file written by llama.cpp's converter: RoPE mode by architecture.</summary>
    Gguf,
    /// <summary>A karpathy/llama2.c checkpoint: Meta's q/k rows, adjacent-pair RoPE.</summary>
    Llama2c,
}

/// <summary>The LLaMA-family decoder (LLaMA 1/2/3, TinyLlama, SmolLM, Mistral with its sliding window, Qwen2 with q/k/v
/// biases), written like candle's llama.rs: token embedding, N pre-norm blocks (RMSNorm, grouped-query attention with
/// RoPE, SwiGLU), a final RMSNorm and the output projection (the embedding itself when tied). Weights are asked for by
/// their Hugging Face names; a GGUF file answers under llama.cpp's names through <see cref="WeightRenames.GgufLlama"/>.
/// <see cref="LlamaLoader"/> opens a GGUF file or a Hugging Face directory.</summary>
public sealed partial class Llama : IDisposable
{
    private readonly WeightSet _weights;

    /// <summary>The configuration the model was built with.</summary>
    public LlamaConfig Config { get; }

    /// <summary>The token embedding [vocab, dim].</summary>
    public Embedding Embed { get; }

    /// <summary>The decoder blocks.</summary>
    public IReadOnlyList<TransformerBlock> Blocks { get; }

    /// <summary>The final norm.</summary>
    public RmsNorm Norm { get; }

    /// <summary>The output projection to vocabulary logits (the embedding table when tied).</summary>
    public Linear Head { get; }

    /// <summary>The rotary tables shared by every block.</summary>
    public RotaryEmbedding Rope { get; }

    /// <summary>Positions the model can attend over (the rotary table's length).</summary>
    public int ContextLength => Rope.MaxPositions;

    /// <summary>The backend the weights live on.</summary>
    public IBackend Backend => Embed.Weight.Backend;

    private Llama(LlamaConfig config, Embedding embed, TransformerBlock[] blocks, RmsNorm norm, Linear head, RotaryEmbedding rope, WeightSet weights) =>
        (Config, Embed, Blocks, Norm, Head, Rope, _weights) = (config, embed, blocks, norm, head, rope, weights);

    /// <summary>Builds the model from <paramref name="wb"/> (Hugging Face names; GGUF names through the builder's renames)
    /// and takes ownership of everything it loaded. <paramref name="contextLength"/> caps the rotary table (null: the
    /// config's max_position_embeddings).</summary>
    public static Llama Load(WeightBuilder wb, LlamaConfig config, LlamaWeightLayout layout, int? contextLength = null, int? rotaryDim = null)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        foreach (var (key, problem) in config.Problems()) throw new TesseraException($"llama config: {key} {problem}");
        if (config.HiddenAct is not ("silu" or "swish"))
            throw new TesseraException($"llama: hidden_act '{config.HiddenAct}' is not supported (LLaMA-family models use silu)");
        int dim = config.HiddenSize, hd = config.HeadDimension, ctx = contextLength ?? config.MaxPositionEmbeddings;
        if (ctx <= 0) throw new TesseraException($"llama: the context length must be positive, got {ctx}");
        bool qwen = config.ModelType.StartsWith("qwen2", StringComparison.Ordinal);
        var mode = layout != LlamaWeightLayout.HuggingFace && !qwen ? RopeMode.Interleaved : RopeMode.RotateHalf;
        var rope = RotaryEmbedding.ForDecoder(wb, config, rotaryDim ?? hd, ctx, mode); // scaled as rope_scaling / rope_freqs say
        // Qwen2 has q/k/v biases without saying so in config.json; attention_bias gives LLaMA biases on all four.
        bool qkvBias = config.AttentionBias || qwen || wb.Contains("model.layers.0.self_attn.q_proj.bias");
        var attention = new AttentionConfig(dim, config.NumAttentionHeads)
        {
            KvHeads = config.KvHeads, HeadDim = hd, QkvBias = qkvBias, OutBias = config.AttentionBias, Causal = true,
            SlidingWindow = config.SlidingWindow, Names = AttentionNames.Llama,
        };
        var blockConfig = new TransformerBlockConfig(attention, config.IntermediateSize)
        {
            Norm = NormKind.RmsNorm, NormEps = (float)config.RmsNormEps, FeedForward = FeedForwardKind.Gated,
            Activation = Activation.Silu, MlpBias = config.MlpBias, Names = BlockNames.Llama,
        };
        var layers = wb.Pp("model.layers");
        var blocks = new TransformerBlock[config.NumHiddenLayers];
        for (int i = 0; i < blocks.Length; i++) blocks[i] = TransformerBlock.Load(layers.Pp(i), blockConfig, rope);
        var embedWb = wb.Pp("model.embed_tokens");
        var embed = Embedding.Load(embedWb, config.VocabSize, dim);
        var norm = RmsNorm.Load(wb.Pp("model.norm"), dim, (float)config.RmsNormEps);
        // llama.cpp reuses the token embedding when there is no output projection; so do tied Hugging Face models.
        var head = config.TieWordEmbeddings || !wb.Contains("lm_head.weight")
            ? Linear.Load(embedWb, dim, config.VocabSize, bias: false)
            : Linear.Load(wb.Pp("lm_head"), dim, config.VocabSize, bias: false);
        var weights = wb.Commit();
        // A decoder reads its weights in place and must stay within file + KV cache + a little: no packed copies
        // (long prompts pack per call; the prefill is compute-bound there, the copy would double an f32 model).
        weights.ForbidDerivedForms();
        return new Llama(config, embed, blocks, norm, head, rope, weights);
    }

    /// <summary>Token embeddings of host ids: [1, ids.Length, dim]; an id outside the vocabulary is an error naming it.</summary>
    public Tensor Embeddings(ReadOnlySpan<int> ids)
    {
        using var rows = Embed.Forward(ids);
        return rows.Reshape(1, ids.Length, Config.HiddenSize);
    }

    /// <summary>Logits [1, S, vocab] (or [1, 1, vocab] with <paramref name="lastOnly"/>) for host token ids continuing
    /// the sequence in <paramref name="cache"/> (positions from the cache's length, or from 0 without one).</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, IKvCache? cache, bool lastOnly = false)
    {
        if (ids.Length == 0) throw new TesseraException("llama: no tokens to run");
        using var x = Embeddings(ids);
        return ForwardEmbeddings(x, null, cache, lastOnly);
    }

    /// <summary>Logits for token ids [B, S] (i32/i64) at <paramref name="positions"/> ([S] or [B, S]; null: continuing
    /// the cache).</summary>
    public Tensor Forward(Tensor ids, Tensor? positions, IKvCache? cache, bool lastOnly = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        using var x = Embed.Forward(ids);
        return ForwardEmbeddings(x, positions, cache, lastOnly);
    }

    /// <summary>Logits for input embeddings [B, S, dim] instead of tokens (image embeddings spliced in by a vision
    /// connector, LLaVA-style), at <paramref name="positions"/> (null: continuing the cache).</summary>
    public Tensor ForwardEmbeddings(Tensor embeds, Tensor? positions, IKvCache? cache, bool lastOnly = false)
    {
        ArgumentNullException.ThrowIfNull(embeds);
        if (embeds.Rank != 3 || embeds.Dim(2) != Config.HiddenSize)
            throw new TesseraException($"llama: embeddings must be [B, S, {Config.HiddenSize}], got {embeds.Shape}");
        int start = cache?.Length(0) ?? 0, s = embeds.Dim(1);
        if (positions is null && start + s > ContextLength)
            throw new TesseraException($"llama: {start} cached + {s} new tokens exceed the context of {ContextLength} positions");
        var x = embeds.Share();
        for (int i = 0; i < Blocks.Count; i++)
        {
            using var input = x;
            x = Blocks[i].Forward(input, new AttentionInputs(Positions: positions, Cache: cache, Layer: i));
        }
        using (x)
        {
            // Generation needs only the last position's logits: skip the vocabulary projection for the rest.
            using var last = lastOnly ? x.Narrow(1, s - 1, 1) : x.Share();
            using var n = Norm.Forward(last);
            return Head.Forward(n);
        }
    }

    /// <summary>A KV cache for this model: one [batch, KvHeads, maxLength, HeadDim] buffer per layer and side, f32 or, with
    /// <paramref name="kvType"/> f16, half the memory and half the bytes each decode step's attention reads (llama.cpp's
    /// default; keys and values are rounded to f16 as they are stored, the attention itself stays f32).</summary>
    public ContiguousKvCache CreateCache(int maxLength, int batch = 1, DType kvType = DType.F32)
    {
        if (maxLength <= 0 || maxLength > ContextLength)
            throw new TesseraException($"llama: a cache of {maxLength} positions does not fit the context of {ContextLength}");
        return new ContiguousKvCache(Backend, Blocks.Count, batch, Config.KvHeads, Config.HeadDimension, maxLength, CheckKvType(kvType));
    }

    /// <summary>A paged KV cache for this model (blocks of <paramref name="blockSize"/> positions, attention through the
    /// engine's paged attention), f32 or f16 as <see cref="CreateCache"/>.</summary>
    public Generation.PagedKvCache CreatePagedCache(int maxLength, int batch = 1, int blockSize = 16, DType kvType = DType.F32)
    {
        if (maxLength <= 0 || maxLength > ContextLength)
            throw new TesseraException($"llama: a cache of {maxLength} positions does not fit the context of {ContextLength}");
        return new Generation.PagedKvCache(Backend, Blocks.Count, batch, Config.KvHeads, Config.HeadDimension, maxLength, blockSize,
            dtype: CheckKvType(kvType));
    }

    private static DType CheckKvType(DType kvType) => kvType is DType.F32 or DType.F16
        ? kvType
        : throw new TesseraException($"llama: a KV cache is f32 or f16, not {kvType.Name()}");

    /// <summary>Frees the weights (and unmaps the file when nothing else holds it).</summary>
    public void Dispose() => _weights.Dispose();
}
