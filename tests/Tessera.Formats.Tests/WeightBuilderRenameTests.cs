using Tessera.Cpu;
using static Tessera.Formats.Tests.WeightBuilderFixtures;

namespace Tessera.Formats.Tests;

/// <summary>Rename rules: checkpoint prefixes and llama.cpp's GGUF names for Hugging Face's LLaMA names.</summary>
public class WeightBuilderRenameTests
{
    private static readonly IBackend Cpu = CpuBackend.Default;

    /// <summary>../shared/models from the repository root, found from the test's working directory upwards.</summary>
    internal static string? SharedModel(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            string p = Path.Combine(d.FullName, "..", "shared", "models", relative);
            if (File.Exists(p)) return Path.GetFullPath(p);
        }
        return null;
    }

    [Fact]
    public void ModuleAndModelPrefixesAreAddedOrRemoved()
    {
        using var dir = new TempDir();
        string path = WriteSafetensors(dir, "m.safetensors", F32("module.backbone.conv.weight", 3, 1), F32("model.embed_tokens.weight", 7, 3));
        using var wb = WeightBuilder.Open(Cpu, path);
        Assert.Equal(Values("module.backbone.conv.weight", 3), wb.Pp("backbone").Get("conv.weight", 3, 1).ToArray<float>());
        Assert.Equal(Values("model.embed_tokens.weight", 21), wb.Get("embed_tokens.weight", 7, 3).ToArray<float>());
        Assert.Equal("model.embed_tokens.weight", wb.Info("embed_tokens.weight").Name);
        var e = Assert.Throws<WeightFormatException>(() => wb.Get("embed_tokens.weight", 3, 7));
        Assert.Contains("'embed_tokens.weight'", e.Message);
        Assert.Contains("(stored as 'model.embed_tokens.weight')", e.Message);

        // With no renames, only the name as asked.
        using var strict = WeightBuilder.Open(Cpu, new WeightBuilderOptions(Renames: WeightRenames.None), path);
        Assert.False(strict.Contains("embed_tokens.weight"));
        Assert.True(strict.Contains("model.embed_tokens.weight"));
    }

    [Fact]
    public void ReplacementsAndCustomRulesAreTriedAfterTheNameItself()
    {
        var r = WeightRenames.None.WithReplacements(("gamma", "weight"), ("beta", "bias")).With(n => [n + ".alt"]);
        Assert.Equal(new[] { "ln.gamma", "ln.weight", "ln.gamma.alt" }, r.Candidates("ln.gamma"));
        Assert.Equal(new[] { "x", "x.alt" }, r.Candidates("x")); // a rule that changes nothing adds nothing
    }

    public static TheoryData<string, string> LlamaNames()
    {
        var d = new TheoryData<string, string>
        {
            { "model.embed_tokens.weight", "token_embd.weight" },
            { "model.norm.weight", "output_norm.weight" },
            { "lm_head.weight", "output.weight" },
        };
        foreach (int i in new[] { 0, 17 })
        {
            d.Add($"model.layers.{i}.self_attn.q_proj.weight", $"blk.{i}.attn_q.weight");
            d.Add($"model.layers.{i}.self_attn.k_proj.weight", $"blk.{i}.attn_k.weight");
            d.Add($"model.layers.{i}.self_attn.v_proj.weight", $"blk.{i}.attn_v.weight");
            d.Add($"model.layers.{i}.self_attn.q_proj.bias", $"blk.{i}.attn_q.bias");
            d.Add($"model.layers.{i}.self_attn.o_proj.weight", $"blk.{i}.attn_output.weight");
            d.Add($"model.layers.{i}.input_layernorm.weight", $"blk.{i}.attn_norm.weight");
            d.Add($"model.layers.{i}.post_attention_layernorm.weight", $"blk.{i}.ffn_norm.weight");
            d.Add($"model.layers.{i}.mlp.gate_proj.weight", $"blk.{i}.ffn_gate.weight");
            d.Add($"model.layers.{i}.mlp.up_proj.weight", $"blk.{i}.ffn_up.weight");
            d.Add($"model.layers.{i}.mlp.down_proj.weight", $"blk.{i}.ffn_down.weight");
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(LlamaNames))]
    public void GgufLlamaNamesMapBothWays(string hf, string gguf)
    {
        Assert.Equal(gguf, GgufLlamaNames.ToGguf(hf));
        Assert.Equal(hf, GgufLlamaNames.ToHuggingFace(gguf));
        if (hf.StartsWith("model.", StringComparison.Ordinal)) Assert.Equal(gguf, GgufLlamaNames.ToGguf(hf["model.".Length..]));
        Assert.Contains(gguf, WeightRenames.GgufLlama.Candidates(hf));
        Assert.Contains(hf, WeightRenames.GgufLlama.Candidates(gguf));
    }

    [Theory]
    [InlineData("model.layers.3.self_attn.rotary_emb.inv_freq")]
    [InlineData("model.layers.x.mlp.up_proj.weight")]
    [InlineData("blk.2.attn_qkv.weight")]
    [InlineData("vision_model.embeddings.patch_embedding.weight")]
    [InlineData("outputs.weight")]
    public void NamesOutsideTheMapHaveNoGgufTwin(string name)
    {
        Assert.Null(GgufLlamaNames.ToGguf(name));
        Assert.Null(GgufLlamaNames.ToHuggingFace(name));
    }

    [Fact]
    public void HuggingFaceNamesLoadFromAGgufFileAndBack()
    {
        using var dir = new TempDir();
        string gguf = WriteGguf(dir, "m.gguf", [F32("token_embd.weight", 17, 32), F32("blk.1.attn_norm.weight", 32)],
            Quantized("blk.1.ffn_down.weight", DType.Q4_0, 7, 64));
        using (var wb = WeightBuilder.Open(Cpu, new WeightBuilderOptions(Renames: WeightRenames.GgufLlama), gguf))
        {
            var layer = wb.Pp("model.layers").Pp(1);
            Assert.Equal(Values("blk.1.attn_norm.weight", 32), layer.Get("input_layernorm.weight", 32).ToArray<float>());
            Assert.Equal(DType.Q4_0, layer.Get("mlp.down_proj.weight", 7, 64).DType);
            Assert.Equal(Values("token_embd.weight", 17 * 32), wb.Get("model.embed_tokens.weight", 17, 32).ToArray<float>());
            Assert.Null(wb.GetOptional("lm_head.weight")); // tied embeddings: no output.weight stored
            // The default rules do not map GGUF names.
            using var plain = WeightBuilder.Open(Cpu, gguf);
            var e = Assert.Throws<WeightFormatException>(() => plain.Get("model.layers.1.input_layernorm.weight"));
            Assert.Contains("no such tensor", e.Message);
        }
        string st = WriteSafetensors(dir, "m.safetensors", F32("model.layers.0.self_attn.o_proj.weight", 3, 5));
        using var back = WeightBuilder.Open(Cpu, new WeightBuilderOptions(Renames: WeightRenames.GgufLlama), st);
        Assert.Equal(Values("model.layers.0.self_attn.o_proj.weight", 15), back.Get("blk.0.attn_output.weight", 3, 5).ToArray<float>());
    }

    [SkippableFact]
    public void TheRealStories260KGgufLoadsUnderHuggingFaceNames()
    {
        string? path = SharedModel("llm/stories260K/stories260K.gguf");
        Skip.If(path is null, "../shared/models/llm/stories260K/stories260K.gguf is absent (real weights are read in place, never copied)");
        using var wb = WeightBuilder.Open(Cpu, new WeightBuilderOptions(Renames: WeightRenames.GgufLlama), path!);
        // dim 64, 5 layers, 8 heads of 8, 4 KV heads, ffn 172, vocab 512 (models/README.md).
        const int dim = 64, kv = 32, ffn = 172, vocab = 512;
        var model = wb.Pp("model");
        model.Get("embed_tokens.weight", vocab, dim);
        model.Get("norm.weight", dim);
        for (int i = 0; i < 5; i++)
        {
            var l = model.Pp("layers").Pp(i);
            l.Get("self_attn.q_proj.weight", dim, dim);
            l.Get("self_attn.k_proj.weight", kv, dim);
            l.Get("self_attn.v_proj.weight", kv, dim);
            l.Get("self_attn.o_proj.weight", dim, dim);
            l.Get("input_layernorm.weight", dim);
            l.Get("post_attention_layernorm.weight", dim);
            l.Get("mlp.gate_proj.weight", ffn, dim);
            l.Get("mlp.up_proj.weight", ffn, dim);
            l.Get("mlp.down_proj.weight", dim, ffn);
        }
        wb.GetOptional("lm_head.weight", vocab, dim);
        Assert.Equal(wb.Sources[0].Names.Count, wb.Weights.Count); // every stored tensor was reached by its Hugging Face name
        Assert.Contains("'blk.0.attn_q.weight'", Assert.Throws<WeightFormatException>(() => model.Pp("layers.0").Get("self_attn.q_proj.weight", kv, dim)).Message);
    }
}
