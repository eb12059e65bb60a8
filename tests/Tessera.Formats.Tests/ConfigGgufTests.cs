using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;

namespace Tessera.Formats.Tests;

/// <summary>A <see cref="LlamaConfig"/> read from GGUF metadata.</summary>
public class ConfigGgufTests
{
    private static GgufFile Write(TempDir dir, GgufWriter w)
    {
        string path = dir.File("m.gguf");
        w.Write(path);
        return GgufFile.Open(path);
    }

    private static GgufWriter Qwen() => new GgufWriter()
        .Add("general.architecture", GgufValue.From("qwen2"))
        .Add("qwen2.block_count", GgufValue.From(3u))
        .Add("qwen2.embedding_length", GgufValue.From(96u))
        .Add("qwen2.feed_forward_length", GgufValue.From(33u))
        .Add("qwen2.attention.head_count", GgufValue.From(6u))
        .Add("qwen2.attention.head_count_kv", GgufValue.From(2u))
        .Add("qwen2.attention.layer_norm_rms_epsilon", GgufValue.From(1e-6f))
        .Add("qwen2.rope.freq_base", GgufValue.From(1000000f))
        .Add("qwen2.context_length", GgufValue.From(32768u))
        .Add("qwen2.rope.scaling.type", GgufValue.From("yarn"))
        .Add("qwen2.rope.scaling.factor", GgufValue.From(4f))
        .Add("qwen2.rope.scaling.original_context_length", GgufValue.From(8192u))
        .Add("tokenizer.ggml.tokens", GgufValue.Array(Enumerable.Range(0, 17).Select(i => $"t{i}").ToArray()))
        .Add("tokenizer.ggml.bos_token_id", GgufValue.From(11u))
        .Add("tokenizer.ggml.eos_token_id", GgufValue.From(12u))
        .Add("tokenizer.ggml.padding_token_id", GgufValue.From(uint.MaxValue)); // llama.cpp's "none"

    [Fact]
    public void EveryKeyMapsToItsHuggingFaceName()
    {
        using var dir = new TempDir();
        using var g = Write(dir, Qwen().AddTensor(WeightTensor.FromValues("output.weight", [17, 96], new float[17 * 96])));
        var c = LlamaConfigFromGguf.Read(g);
        Assert.Equal((96, 33, 3, 6, 2, 17), (c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.KvHeads, c.VocabSize));
        Assert.Equal(16, c.HeadDimension);
        Assert.Equal(1e-6, c.RmsNormEps, 1e-12);
        Assert.Equal(1e6, c.RopeTheta);
        Assert.Equal(32768, c.MaxPositionEmbeddings);
        Assert.Equal("yarn", c.RopeScaling!.Kind);
        Assert.Equal(4.0, c.RopeScaling.Factor);
        Assert.Equal(8192, c.RopeScaling.OriginalMaxPositionEmbeddings);
        Assert.Equal(new[] { 11 }, c.BosTokenId);
        Assert.Equal(new[] { 12 }, c.EosTokenId);
        Assert.Null(c.PadTokenId);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal("qwen2", c.ModelType);
    }

    [Fact]
    public void AbsentOptionalKeysTakeDefaultsAndAMissingSizeIsNamed()
    {
        using var dir = new TempDir();
        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.From("llama"))
            .Add("llama.block_count", GgufValue.From(1u))
            .Add("llama.embedding_length", GgufValue.From(32u))
            .Add("llama.feed_forward_length", GgufValue.From(64u))
            .Add("llama.attention.head_count", GgufValue.From(4u))
            .AddTensor(WeightTensor.FromValues("token_embd.weight", [7, 32], new float[7 * 32]));
        using (var g = Write(dir, w))
        {
            var c = LlamaConfigFromGguf.Read(g);
            Assert.Equal(7, c.VocabSize); // from the embedding's rows
            Assert.Equal(4, c.KvHeads);
            Assert.True(c.TieWordEmbeddings); // no output.weight
            Assert.Equal(10000.0, c.RopeTheta);
            Assert.Null(c.RopeScaling);
        }
        using var dir2 = new TempDir();
        using var bad = Write(dir2, new GgufWriter().Add("general.architecture", GgufValue.From("llama")).Add("llama.attention.head_count", GgufValue.From(4u)));
        var e = Assert.Throws<WeightFormatException>(() => LlamaConfigFromGguf.Read(bad));
        Assert.Contains("metadata key 'llama.embedding_length' is missing", e.Message);
    }

    [SkippableFact]
    public void TheRealStories260KReadsAsItsReadmeSays()
    {
        string? path = WeightBuilderRenameTests.SharedModel("llm/stories260K/stories260K.gguf");
        Skip.If(path is null, "../shared/models/llm/stories260K/stories260K.gguf is absent (real weights are read in place, never copied)");
        using var g = GgufFile.Open(path!);
        var c = LlamaConfigFromGguf.Read(g);
        Assert.Equal((64, 172, 5, 8, 4, 512), (c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.KvHeads, c.VocabSize));
        Assert.Equal(8, c.HeadDimension);
        Assert.Equal("llama", c.ModelType);
    }
}
