using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>Vocabulary GGUFs that are wrong give a <see cref="TokenizerException"/> that says what is wrong; a small
/// well-formed one works, including the real stories260K model's SentencePiece vocabulary.</summary>
public class HostileVocabularyTests
{
    private static string Expect(Action<GgufWriter> build)
    {
        using var dir = new TempDir();
        var w = new GgufWriter().Add("general.architecture", GgufValue.From("llama"));
        build(w);
        string path = dir.File("v.gguf");
        w.Write(path);
        using var file = GgufFile.Open(path);
        return Assert.Throws<TokenizerException>(() => Tokenizer.FromGguf(file)).Message;
    }

    private static readonly string[] Tokens = ["<unk>", "<s>", "</s>", "a", "b", "ab"];

    [Fact]
    public void BrokenVocabulariesAreRefusedWithTheReason()
    {
        Assert.Contains("no tokenizer.ggml.model", Expect(_ => { }));
        Assert.Contains("'unigram' is not supported", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("unigram"))));
        Assert.Contains("no tokenizer.ggml.tokens", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("llama"))));
        Assert.Contains("duplicate token", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("llama"))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "<unk>", "<s>", "</s>", "a", "a" }))));
        Assert.Contains("scores has 2 entries for 6 tokens", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("llama"))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(Tokens)).Add("tokenizer.ggml.scores", GgufValue.Array(new float[2]))));
        Assert.Contains("needs tokenizer.ggml.merges", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("gpt2"))
            .Add("tokenizer.ggml.pre", GgufValue.From("gpt-2")).Add("tokenizer.ggml.tokens", GgufValue.Array(Tokens))));
        Assert.Contains("unknown pre-tokenizer type: 'made-up'", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("gpt2"))
            .Add("tokenizer.ggml.pre", GgufValue.From("made-up")).Add("tokenizer.ggml.tokens", GgufValue.Array(Tokens))
            .Add("tokenizer.ggml.merges", GgufValue.Array(new[] { "a b" }))));
        // GPT-2's default BOS id (11) is past this vocabulary, so asking for BOS cannot be honoured.
        Assert.Contains("add_bos_token is true, but tokenizer.ggml.bos_token_id is not set", Expect(w => w.Add("tokenizer.ggml.model", GgufValue.From("gpt2"))
            .Add("tokenizer.ggml.pre", GgufValue.From("gpt-2")).Add("tokenizer.ggml.tokens", GgufValue.Array(Tokens))
            .Add("tokenizer.ggml.merges", GgufValue.Array(new[] { "a b" })).Add("tokenizer.ggml.add_bos_token", GgufValue.From(true))));
        // A key of the wrong type is the GGUF layer's error, naming the key.
        using var dir = new TempDir();
        new GgufWriter().Add("tokenizer.ggml.model", GgufValue.From("llama")).Add("tokenizer.ggml.tokens", GgufValue.Array(Tokens))
            .Add("tokenizer.ggml.token_type", GgufValue.Array(new[] { "x" })).Write(dir.File("t.gguf"));
        using var file = GgufFile.Open(dir.File("t.gguf"));
        Assert.Contains("tokenizer.ggml.token_type", Assert.Throws<WeightFormatException>(() => Tokenizer.FromGguf(file)).Message);
    }

    [Fact]
    public void ASmallWrittenVocabularyMergesByScore()
    {
        using var dir = new TempDir();
        string path = dir.File("v.gguf");
        new GgufWriter().Add("general.architecture", GgufValue.From("llama"))
            .Add("tokenizer.ggml.model", GgufValue.From("llama"))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁a", "<0x62>" }))
            .Add("tokenizer.ggml.scores", GgufValue.Array(new float[] { 0, 0, 0, -1, -2, -2, -3, -5, 0 }))
            .Add("tokenizer.ggml.token_type", GgufValue.Array(new[] { 2, 3, 3, 1, 1, 1, 1, 1, 6 }))
            .Add("tokenizer.ggml.add_space_prefix", GgufValue.From(false))
            .Write(path);
        using var file = GgufFile.Open(path);
        var tok = Tokenizer.FromGguf(file);
        // "ab" (-3) beats "▁a" (-5): ▁ + ab.
        Assert.Equal([1, 3, 6], tok.Encode(" ab"));
        Assert.Equal([4, 3, 5], tok.Encode("a b", addSpecial: false));
        // A character with neither a token nor a byte token cannot be encoded: a clear error, not a crash.
        Assert.Contains("no token for byte 0x63", Assert.Throws<TokenizerException>(() => tok.Encode("c")).Message);
        Assert.Equal(" ab", tok.Decode(tok.Encode(" ab", addSpecial: false)));
    }

    [SkippableFact]
    public void Stories260KVocabularyEncodesAndDecodes()
    {
        string? path = WeightBuilderRenameTests.SharedModel("llm/stories260K/stories260K.gguf");
        Skip.If(path is null, "../shared/models/llm/stories260K/stories260K.gguf is absent (real weights are read in place, never copied)");
        using var file = GgufFile.Open(path!);
        var tok = Tokenizer.FromGguf(file);
        Assert.Equal(512, tok.VocabSize);
        Assert.Equal(TokenizerKind.SentencePiece, tok.Kind);
        int[] ids = tok.Encode("Once upon a time, there was a little girl named Lily.");
        Assert.Equal(tok.BosId, ids[0]);
        Assert.All(ids, id => Assert.InRange(id, 0, 511));
        Assert.Equal("Once upon a time, there was a little girl named Lily.", tok.Decode(ids[1..]));
    }
}
