using Tessera.Formats.Gguf;

namespace Tessera.Formats.Tests;

/// <summary>Typed GGUF metadata getters: conversions, arch-scoped keys, and the errors for missing or mistyped keys.</summary>
public class GgufMetadataTests
{
    private static GgufFile Write(TempDir dir, GgufWriter w)
    {
        string path = dir.File("m.gguf");
        w.Write(path);
        return GgufFile.Open(path);
    }

    private static GgufWriter Llama() => new GgufWriter()
        .Add("general.architecture", GgufValue.From("llama"))
        .Add("general.name", GgufValue.From("tiny"))
        .Add("llama.block_count", GgufValue.From(17u))
        .Add("llama.context_length", GgufValue.From(2048)) // int32, as some writers store it
        .Add("llama.embedding_length", GgufValue.From(65UL))
        .Add("llama.attention.layer_norm_rms_epsilon", GgufValue.From(1e-5f))
        .Add("llama.rope.freq_base", GgufValue.From(10000.0))
        .Add("llama.rope.scaling.finetuned", GgufValue.From(true))
        .Add("llama.bad_count", GgufValue.From(-3))
        .Add("llama.name_as_count", GgufValue.From("thirty"))
        .Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "<s>", "</s>", "▁a" }))
        .Add("tokenizer.ggml.scores", GgufValue.Array(new[] { 0f, -1.5f, -2f }))
        .Add("tokenizer.ggml.token_type", GgufValue.Array(new[] { 3, 3, 1 }))
        .Add("tokenizer.ggml.merges_nested", GgufValue.Array([GgufValue.Array(new[] { 1, 2 })]));

    [Fact]
    public void ScalarsConvertBetweenWidthsWhenTheyFit()
    {
        using var dir = new TempDir();
        using var g = Write(dir, Llama());
        Assert.Equal("llama", g.Architecture());
        Assert.Equal("tiny", g.GetString("general.name"));
        Assert.Equal(17u, g.GetUInt32("llama.block_count"));
        Assert.Equal(17, g.GetInt("llama.block_count"));
        Assert.Equal(2048u, g.GetUInt32("llama.context_length"));
        Assert.Equal(65L, g.GetInt64("llama.embedding_length"));
        Assert.Equal(1e-5f, g.GetFloat("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(10000f, g.GetFloat("llama.rope.freq_base"));
        Assert.Equal(17f, g.GetFloat("llama.block_count")); // a number may be read as a float
        Assert.True(g.GetBool("llama.rope.scaling.finetuned"));
        Assert.Equal(-3, g.Get<int>("llama.bad_count"));
        Assert.Equal(-3.0, g.Get<double>("llama.bad_count"));
    }

    [Fact]
    public void ArchScopedKeysReadUnderTheArchitecture()
    {
        using var dir = new TempDir();
        using var g = Write(dir, Llama());
        Assert.Equal("llama.block_count", g.ArchKey("block_count"));
        Assert.Equal(17u, g.GetArch<uint>("block_count"));
        Assert.Equal(1e-5f, g.GetArch<float>("attention.layer_norm_rms_epsilon"));
        Assert.False(g.TryGetArch<uint>("attention.head_count_kv", out _));
        Assert.Equal(17u, g.GetArchOrDefault("attention.head_count_kv", g.GetArch<uint>("block_count")));
        Assert.True(g.TryGetArch<int>("context_length", out int ctx));
        Assert.Equal(2048, ctx);
        var e = Assert.Throws<WeightFormatException>(() => g.GetArch<uint>("expert_count"));
        Assert.Contains("metadata key 'llama.expert_count' is missing", e.Message);
    }

    [Fact]
    public void ArraysConvertElementByElement()
    {
        using var dir = new TempDir();
        using var g = Write(dir, Llama());
        Assert.Equal(new[] { "<s>", "</s>", "▁a" }, g.GetArray<string>("tokenizer.ggml.tokens"));
        Assert.Equal(new[] { 0f, -1.5f, -2f }, g.GetArray<float>("tokenizer.ggml.scores"));
        Assert.Equal(new[] { 3, 3, 1 }, g.GetArray<int>("tokenizer.ggml.token_type"));
        Assert.Equal(new[] { 3L, 3L, 1L }, g.GetArray<long>("tokenizer.ggml.token_type"));
        Assert.Equal(new[] { 3u, 3u, 1u }, g.Get<uint[]>("tokenizer.ggml.token_type"));
        // A copy: changing it does not change the file's metadata.
        g.GetArray<string>("tokenizer.ggml.tokens")[0] = "changed";
        Assert.Equal("<s>", g.GetArray<string>("tokenizer.ggml.tokens")[0]);
        Assert.True(g.TryGetArray<float>("tokenizer.ggml.scores", out var scores));
        Assert.Equal(3, scores.Length);
        Assert.False(g.TryGetArray<float>("tokenizer.ggml.absent", out _));
    }

    [Fact]
    public void MissingAndMistypedKeysSayWhatTheyHoldAndWhatWasExpected()
    {
        using var dir = new TempDir();
        using var g = Write(dir, Llama());
        void Fails(Action read, params string[] parts)
        {
            var e = Assert.Throws<WeightFormatException>(read);
            Assert.Contains(g.Path, e.Message);
            foreach (var p in parts) Assert.Contains(p, e.Message);
        }
        Fails(() => g.GetUInt32("llama.name_as_count"), "key 'llama.name_as_count' is a string, expected an unsigned integer");
        Fails(() => g.GetString("llama.block_count"), "key 'llama.block_count' is a uint32, expected a string");
        Fails(() => g.GetBool("llama.block_count"), "is a uint32, expected a bool");
        Fails(() => g.GetFloat("general.name"), "is a string, expected a number");
        Fails(() => g.GetUInt32("llama.bad_count"), "key 'llama.bad_count' is -3, outside the range of UInt32");
        Fails(() => g.GetArray<int>("llama.block_count"), "is a uint32, expected an array of integers");
        Fails(() => g.GetArray<int>("tokenizer.ggml.tokens"), "is an array of string, expected an array of integers");
        Fails(() => g.GetArray<uint>("tokenizer.ggml.merges_nested"), "is an array of arrays");
        Fails(() => g.GetInt("llama.block_cnt"), "metadata key 'llama.block_cnt' is missing", "keys like it: 'llama.block_count'");
        // TryGet is false only for an absent key; a present key of the wrong type is still an error.
        Assert.False(g.TryGetUInt32("llama.absent", out _));
        Fails(() => g.TryGetUInt32("llama.name_as_count", out _), "is a string");
        Assert.Equal(4u, g.GetOrDefault("llama.absent", 4u));
    }

    [Fact]
    public void AFileWithoutAnArchitectureSaysSo()
    {
        using var dir = new TempDir();
        using var g = Write(dir, new GgufWriter().Add("general.name", GgufValue.From("x")));
        var e = Assert.Throws<WeightFormatException>(() => g.GetArch<uint>("block_count"));
        Assert.Contains("metadata key 'general.architecture' is missing", e.Message);
    }

    [SkippableFact]
    public void TheRealStories260KMetadataReadsAsItsReadmeSays()
    {
        string? path = WeightBuilderRenameTests.SharedModel("llm/stories260K/stories260K.gguf");
        Skip.If(path is null, "../shared/models/llm/stories260K/stories260K.gguf is absent (real weights are read in place, never copied)");
        using var g = GgufFile.Open(path!);
        Assert.Equal("llama", g.Architecture());
        Assert.Equal(5u, g.GetArch<uint>("block_count"));
        Assert.Equal(64u, g.GetArch<uint>("embedding_length"));
        Assert.Equal(172u, g.GetArch<uint>("feed_forward_length"));
        Assert.Equal(8u, g.GetArch<uint>("attention.head_count"));
        Assert.Equal(4u, g.GetArch<uint>("attention.head_count_kv"));
        Assert.Equal(2048u, g.GetArch<uint>("context_length")); // the file stores 2048; models/README.md says "context 512"
        Assert.InRange(g.GetArch<float>("attention.layer_norm_rms_epsilon"), 1e-7f, 1e-4f);
        Assert.Equal(512, g.GetArray<string>("tokenizer.ggml.tokens").Length);
    }
}
