using Xunit.Abstractions;
using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>MultiHeadAttention and TransformerBlock against PyTorch: nn.MultiheadAttention itself (packed in_proj,
/// additive mask), and written-out attention (Hugging Face LLaMA's rotate-half and GPT-J's interleaved rotary,
/// repeat_kv for grouped-query heads, bottom-right causal masking) for grouped-query 6/2 heads with per-sequence
/// position ids, partial interleaved rotary with 3 heads of 11, cross-attention over a 17-wide context, a KV cache
/// filled by prefill and decode steps, and pre-LN blocks of both kinds (CLIP and LLaMA). Batch 2, sequence 7, width 33.</summary>
public sealed class AttentionTests(AttentionTests.Cases cases, ITestOutputHelper output) : IClassFixture<AttentionTests.Cases>
{
    private const int B = 2, S = 7, D = 33;

    public static AttentionConfig Gqa { get; } = new(D, 6)
    {
        KvHeads = 2, HeadDim = 8, QkvBias = false, OutBias = false, Causal = true, Names = AttentionNames.Llama,
    };

    public static AttentionConfig Partial { get; } = new(D, 3);

    public static AttentionConfig Cross { get; } = new(D, 3) { ContextDim = 17 };

    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 23);

        public Cases()
        {
            var r = Ref;
            var rng = new Random(5);
            // PyTorch's own module: packed in_proj [3D, D].
            r.Random("torch.attn.in_proj_weight", 0.2f, 3 * D, D); r.Random("torch.attn.in_proj_bias", 0.2f, 3 * D);
            r.Random("torch.attn.out_proj.weight", 0.2f, D, D); r.Random("torch.attn.out_proj.bias", 0.2f, D);
            r.Random("torch.x", 1f, B, S, D);
            AttentionCases.Mask(r, "torch.mask", rng, S, S);
            r.Case("torch", new() { ["kind"] = "torch_mha", ["dim"] = D, ["heads"] = 3 });

            // Grouped-query heads, rotate-half rotary, causal; each sequence at its own positions.
            var gqa = AttentionCases.Add(r, "gqa.attn", Gqa, rotaryDim: 8);
            r.Random("gqa.x", 1f, B, S, D);
            r.AddInts("gqa.positions", [.. Enumerable.Range(0, S), .. Enumerable.Range(3, S)], B, S);
            r.Case("gqa", gqa);
            // The same shape at positions 0..S-1 (what prefill + decode through the cache must reproduce).
            var plain = AttentionCases.Add(r, "plain.attn", Gqa, rotaryDim: 8);
            r.Random("plain.x", 1f, B, S, D);
            r.Case("plain", plain);

            // Partial interleaved rotary (6 of 11 channels), shared unordered positions, a per-batch mask.
            var partial = AttentionCases.Add(r, "partial.attn", Partial, rotaryDim: 6, interleaved: true);
            r.Random("partial.x", 1f, B, S, D);
            r.AddInts("partial.positions", [2, 5, 1, 0, 9, 3, 4], S);
            AttentionCases.Mask(r, "partial.mask", rng, B, 1, S, S);
            r.Case("partial", partial);

            // Cross-attention over a 5-token, 17-wide context with a key padding mask.
            var cross = AttentionCases.Add(r, "cross.attn", Cross);
            r.Random("cross.x", 1f, B, S, D); r.Random("cross.context", 1f, B, 5, 17);
            r.Add("cross.mask", [0, 0, 0, 0, float.NegativeInfinity, 0, 0, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity], B, 1, 1, 5);
            r.Case("cross", cross);

            AddBlock(r, "clip", Partial, NormKind.LayerNorm, FeedForwardKind.Mlp, "Gelu", BlockNames.Clip, 0);
            AddBlock(r, "llama", Gqa, NormKind.RmsNorm, FeedForwardKind.Gated, "Silu", BlockNames.Llama, 8);
            r.Run();
        }

        private static void AddBlock(TorchReference r, string name, AttentionConfig attn, NormKind norm, FeedForwardKind ffn,
            string act, BlockNames n, int rotaryDim)
        {
            const int hidden = 65;
            string p = name + ".block.";
            var spec = AttentionCases.Add(r, p + n.Attention, attn, rotaryDim);
            r.Random(p + n.Norm1 + ".weight", 1f, D); r.Random(p + n.Norm2 + ".weight", 1f, D);
            if (norm == NormKind.LayerNorm) { r.Random(p + n.Norm1 + ".bias", 1f, D); r.Random(p + n.Norm2 + ".bias", 1f, D); }
            if (ffn == FeedForwardKind.Mlp)
            {
                r.Random(p + "mlp.fc1.weight", 0.2f, hidden, D); r.Random(p + "mlp.fc1.bias", 0.2f, hidden);
                r.Random(p + "mlp.fc2.weight", 0.2f, D, hidden); r.Random(p + "mlp.fc2.bias", 0.2f, D);
            }
            else
            {
                r.Random(p + "mlp.gate_proj.weight", 0.2f, hidden, D); r.Random(p + "mlp.up_proj.weight", 0.2f, hidden, D);
                r.Random(p + "mlp.down_proj.weight", 0.2f, D, hidden);
            }
            r.Random(name + ".x", 1f, B, S, D);
            spec["kind"] = "block";
            spec["norm"] = norm.ToString(); spec["ffn"] = ffn.ToString(); spec["act"] = act; spec["hidden"] = hidden; spec["eps"] = 1e-5;
            spec["blockNames"] = new Dictionary<string, string> { ["Norm1"] = n.Norm1, ["Attention"] = n.Attention, ["Norm2"] = n.Norm2, ["Mlp"] = n.Mlp };
            r.Case(name, spec);
        }

        public void Dispose() => Ref.Dispose();
    }

    private TorchReference Ref => cases.Ref;

    private static void SkipWithoutTorch() => Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);

    [SkippableFact]
    public void Packed_self_attention_matches_nn_MultiheadAttention_with_a_mask()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("torch");
        var attn = MultiHeadAttention.Load(c.Pp("attn"), new AttentionConfig(D, 3) { Names = AttentionNames.TorchPacked });
        Assert.NotNull(attn.Qkv);
        using var y = attn.Forward(c.Get("x"), new AttentionInputs(Mask: c.Get("mask")));
        NnAssert.Close("nn.MultiheadAttention", y, Ref.Expected("torch.y"));
    }

    [SkippableFact]
    public void Grouped_query_attention_with_rotary_and_per_sequence_positions_matches_the_reference()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("gqa");
        var rope = RotaryEmbedding.Create(wb, 8, maxPositions: 16);
        var attn = MultiHeadAttention.Load(c.Pp("attn"), Gqa, rope);
        using var y = attn.Forward(c.Get("x"), new AttentionInputs(Positions: c.Get("positions")));
        NnAssert.Close("gqa 6/2 rope causal", y, Ref.Expected("gqa.y"));
    }

    [SkippableFact]
    public void Partial_interleaved_rotary_with_shared_positions_and_a_batch_mask_matches_the_reference()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("partial");
        var rope = RotaryEmbedding.Create(wb, 6, maxPositions: 10, mode: RopeMode.Interleaved);
        var attn = MultiHeadAttention.Load(c.Pp("attn"), Partial, rope);
        using var y = attn.Forward(c.Get("x"), new AttentionInputs(Mask: c.Get("mask"), Positions: c.Get("positions")));
        NnAssert.Close("partial interleaved rope", y, Ref.Expected("partial.y"));
    }

    [SkippableFact]
    public void Cross_attention_over_a_context_matches_the_reference()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("cross");
        var attn = MultiHeadAttention.Load(c.Pp("attn"), Cross);
        var x = c.Get("x");
        using var y = attn.Forward(x, new AttentionInputs(Mask: c.Get("mask")), context: c.Get("context"));
        NnAssert.Close("cross-attention", y, Ref.Expected("cross.y"));
        // The residual rides in the output projection's epilogue.
        using var yr = attn.Forward(x, new AttentionInputs(Mask: c.Get("mask")), context: c.Get("context"), residual: x);
        var expected = Ref.Expected("cross.y").Values.Zip(x.ToFloatArray(), (a, b) => a + b).ToArray();
        NnAssert.Close("cross-attention + residual", yr.ToFloatArray(), expected);
    }

    [SkippableFact]
    public void Prefill_then_decode_through_the_kv_cache_matches_the_full_causal_reference()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("plain");
        var rope = RotaryEmbedding.Create(wb, 8, maxPositions: 16);
        var attn = MultiHeadAttention.Load(c.Pp("attn"), Gqa, rope);
        var x = c.Get("x");
        using (var full = attn.Forward(x)) NnAssert.Close("gqa at positions 0..6", full, Ref.Expected("plain.y"));

        using var cache = new ContiguousKvCache(Ref.Cpu, layers: 2, batch: B, kvHeads: 2, headDim: 8, maxLength: 9);
        var steps = new List<Tensor>();
        try
        {
            foreach (var (start, len) in new[] { (0, 4), (4, 1), (5, 2) })
            {
                using var xs = x.Narrow(1, start, len);
                steps.Add(attn.Forward(xs, new AttentionInputs(Cache: cache, Layer: 1)));
            }
            Assert.Equal(7, cache.Length(1));
            Assert.Equal(0, cache.Length(0));
            using var all = Tensor.Concat(1, [.. steps]);
            NnAssert.Close("gqa via kv cache (4 + 1 + 2 tokens)", all, Ref.Expected("plain.y"));
        }
        finally { foreach (var s in steps) s.Dispose(); }
        using var more = x.Narrow(1, 0, 3);
        var e = Assert.Throws<TesseraException>(() => attn.Forward(more, new AttentionInputs(Cache: cache, Layer: 1)));
        Assert.Contains("exceed", e.Message);
    }

    [SkippableTheory]
    [InlineData("clip"), InlineData("llama")]
    public void Pre_ln_transformer_block_matches_the_reference(string name)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        bool llama = name == "llama";
        var cfg = llama
            ? new TransformerBlockConfig(Gqa, 65) { Norm = NormKind.RmsNorm, FeedForward = FeedForwardKind.Gated, Activation = Activation.Silu, MlpBias = false, Names = BlockNames.Llama }
            : new TransformerBlockConfig(Partial, 65) { Activation = Activation.Gelu };
        var rope = llama ? RotaryEmbedding.Create(wb, 8, maxPositions: 16) : null;
        var block = TransformerBlock.Load(wb.Pp(name).Pp("block"), cfg, rope);
        Assert.IsType(llama ? typeof(RmsNorm) : typeof(LayerNorm), block.Norm1);
        using var y = block.Forward(wb.Pp(name).Get("x"));
        var (worst, measured) = NnAssert.Close(name + " block", y, Ref.Expected(name + ".y"));
        output.WriteLine($"{name} block, f32: nmse {measured:E2}, max |diff| {worst:E2}");
    }

    [SkippableTheory]
    [InlineData("clip", DType.BF16, 1e-5), InlineData("llama", DType.BF16, 1e-5), InlineData("clip", DType.F16, 2e-7), InlineData("llama", DType.F16, 2e-7)]
    public void Blocks_with_bf16_and_f16_weights_stay_within_the_weights_rounding(string name, DType dtype, double nmse)
    {
        SkipWithoutTorch();
        // The builder converts every stored f32 tensor to the dtype; the linears keep it (f32 activations against
        // bf16/f16 weights), norms and biases come back to f32. Bound: the weights' rounding (bf16 2^-9, f16 2^-12).
        using var wb = WeightBuilder.Open(Ref.Cpu, new WeightBuilderOptions(FloatDType: dtype), Ref.InputPath);
        bool llama = name == "llama";
        var cfg = llama
            ? new TransformerBlockConfig(Gqa, 65) { Norm = NormKind.RmsNorm, FeedForward = FeedForwardKind.Gated, Activation = Activation.Silu, MlpBias = false, Names = BlockNames.Llama }
            : new TransformerBlockConfig(Partial, 65) { Activation = Activation.Gelu };
        var block = TransformerBlock.Load(wb.Pp(name).Pp("block"), cfg, llama ? RotaryEmbedding.Create(wb, 8, maxPositions: 16) : null);
        Assert.Equal(dtype, block.Attention.Q!.Weight.DType);
        using var x = wb.Pp(name).GetAs("x", DType.F32);
        using var y = block.Forward(x);
        Assert.Equal(DType.F32, y.DType);
        var (worst, measured) = NnAssert.Close($"{name} block, {dtype} weights", y, Ref.Expected(name + ".y"), maxAbs: 0, nmse: nmse);
        output.WriteLine($"{name} block, {dtype} weights: nmse {measured:E2}, max |diff| {worst:E2}");
    }

    [Fact]
    public void Bad_shapes_are_named()
    {
        Assert.Contains("4 kv heads must divide 6", Assert.Throws<TesseraException>(() => (Gqa with { KvHeads = 4 }).Validate()).Message);
        using var wb = Ref.Builder();
        var e = Assert.Throws<WeightFormatException>(() => MultiHeadAttention.Load(wb.Pp("gqa").Pp("attn"), Gqa with { KvHeads = 3 }));
        Assert.Contains("gqa.attn.k_proj.weight", e.Message);
        Assert.Contains("[24, 33]", e.Message);
        var attn = MultiHeadAttention.Load(wb.Pp("cross").Pp("attn"), Cross);
        using var x = Tensor.Zeros(Ref.Cpu, DType.F32, new Shape(B, S, D));
        using var ctx = Tensor.Zeros(Ref.Cpu, DType.F32, new Shape(B, 5, 16));
        Assert.Contains("[2, S, 17]", Assert.Throws<TesseraException>(() => attn.Forward(x, context: ctx)).Message);
    }
}
