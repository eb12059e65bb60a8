using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>The layers on a published checkpoint: Karpathy's stories260K (a TinyStories LLaMA in GGUF: 5 blocks of
/// RmsNorm, grouped-query attention 8/4 with rotary, SwiGLU) assembled from Embedding, TransformerBlock, RmsNorm and
/// Linear by its GGUF names, decoding greedily from BOS through the KV cache. Its model card documents the text.</summary>
public sealed class Stories260KTests
{
    private const string Expected = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    private static string? ModelPath()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Runtime.sln")))
                return Path.GetFullPath(Path.Combine(d.FullName, "..", "shared", "models", "llm", "stories260K", "stories260K.gguf"));
        return null;
    }

    private sealed record Model(Embedding Embed, TransformerBlock[] Blocks, RmsNorm Norm, Linear Head, string[] Vocab)
    {
        public Tensor Logits(Tensor ids, IKvCache? cache)
        {
            using var e = Embed.Forward(ids);                                      // [1, S, 64]
            var x = e.Share();
            for (int i = 0; i < Blocks.Length; i++)
            {
                using var input = x;
                x = Blocks[i].Forward(input, new AttentionInputs(Cache: cache, Layer: i));
            }
            using (x)
            using (var n = Norm.Forward(x))
                return Head.Forward(n);                                             // [1, S, vocab]
        }
    }

    private static Model Load(WeightBuilder wb)
    {
        var gguf = (GgufFile)wb.Sources[0];
        int U(string key) => Convert.ToInt32(gguf.Values[key].Value, System.Globalization.CultureInfo.InvariantCulture);
        int dim = U("llama.embedding_length"), heads = U("llama.attention.head_count"), layers = U("llama.block_count");
        float eps = Convert.ToSingle(gguf.Values["llama.attention.layer_norm_rms_epsilon"].Value, System.Globalization.CultureInfo.InvariantCulture);
        var vocab = (string[])gguf.Values["tokenizer.ggml.tokens"].Value;
        // llama.cpp's llama architecture rotates adjacent pairs (its converter permutes Hugging Face's q/k to match).
        var rope = RotaryEmbedding.Create(wb, U("llama.rope.dimension_count"), 128, mode: RopeMode.Interleaved);
        var attention = new AttentionConfig(dim, heads)
        {
            KvHeads = U("llama.attention.head_count_kv"), QkvBias = false, OutBias = false, Causal = true, Names = AttentionNames.Gguf,
        };
        var cfg = new TransformerBlockConfig(attention, U("llama.feed_forward_length"))
        {
            Norm = NormKind.RmsNorm, NormEps = eps, FeedForward = FeedForwardKind.Gated, Activation = Activation.Silu, MlpBias = false,
            Names = BlockNames.Gguf,
        };
        var blocks = Enumerable.Range(0, layers).Select(i => TransformerBlock.Load(wb.Pp("blk").Pp(i), cfg, rope)).ToArray();
        return new Model(Embedding.Load(wb.Pp("token_embd"), vocab.Length, dim), blocks, RmsNorm.Load(wb.Pp("output_norm"), dim, eps),
            Linear.Load(wb.Pp("output"), dim, vocab.Length, bias: false), vocab);
    }

    [SkippableFact]
    public void Greedy_decoding_through_the_kv_cache_tells_the_documented_story_and_matches_one_causal_pass()
    {
        string? path = ModelPath();
        Skip.If(path is null || !File.Exists(path), $"stories260K.gguf is absent (expected at ../shared/models/llm/stories260K from the repository root: {path})");
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var wb = WeightBuilder.Open(cpu, path!);
        var model = Load(wb);
        using var cache = new ContiguousKvCache(cpu, model.Blocks.Length, batch: 1, kvHeads: 4, headDim: 8, maxLength: 64);

        var tokens = new List<int> { 1 }; // BOS
        while (tokens.Count < 40)
        {
            using var ids = Tensor.FromArray(cpu, new[] { tokens[^1] }, 1, 1);
            using var logits = model.Logits(ids, cache);
            using var next = logits.ArgMax(-1);
            tokens.Add(next.ToArray<int>()[0]);
        }
        string text = string.Concat(tokens.Skip(1).Select(t => model.Vocab[t])).Replace('\u2581', ' ').TrimStart();
        Assert.StartsWith(Expected, text);

        // The same sequence in one causal pass (no cache) predicts every next token the decode steps chose.
        using var all = Tensor.FromArray(cpu, tokens.Take(tokens.Count - 1).ToArray(), 1, tokens.Count - 1);
        using var full = model.Logits(all, null);
        using var argmax = full.ArgMax(-1);
        Assert.Equal(tokens.Skip(1).ToArray(), argmax.ToArray<int>());
    }
}
