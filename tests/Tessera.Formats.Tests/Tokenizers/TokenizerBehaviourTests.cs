using System.Text;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>BOS/EOS rules, special-token parsing, decoding, streaming and odd input on real vocabularies.</summary>
public class TokenizerBehaviourTests
{
    private static Tokenizer Load(string name)
    {
        string? path = LlamaCppVocabCases.Path($"ggml-vocab-{name}.gguf");
        Skip.If(path is null, $"../shared/models/{LlamaCppVocabCases.Folder}/ggml-vocab-{name}.gguf is absent");
        using var file = GgufFile.Open(path!);
        return Tokenizer.FromGguf(file);
    }

    [SkippableFact]
    public void SentencePieceAddsBosAndTheLeadingSpace()
    {
        var tok = Load("llama-spm");
        Assert.Equal((1, 2, true, false), (tok.BosId, tok.EosId, tok.AddBos, tok.AddEos));
        Assert.Equal([1, 15043, 3186], tok.Encode("Hello world"));
        Assert.Equal([15043, 3186], tok.Encode("Hello world", addSpecial: false));
        Assert.Equal([1], tok.Encode(""));
        Assert.Empty(tok.Encode("", addSpecial: false));
        Assert.Equal("Hello world", tok.Decode(tok.Encode("Hello world", addSpecial: false)));
        // As llama_detokenize: the leading space is stripped from the first token only, and BOS gives no text.
        Assert.Equal(" Hello world", tok.Decode(tok.Encode("Hello world")));
        Assert.Contains(2, tok.EndOfGenerationIds);
    }

    [SkippableFact]
    public void ControlTokenTextIsPlainTextUnlessParseSpecial()
    {
        var tok = Load("llama-spm");
        int[] parsed = tok.Encode("<s>Hi</s>", addSpecial: false, parseSpecial: true);
        Assert.Equal(1, parsed[0]);
        Assert.Equal(2, parsed[^1]);
        int[] plain = tok.Encode("<s>Hi</s>", addSpecial: false, parseSpecial: false);
        Assert.DoesNotContain(1, plain);
        Assert.DoesNotContain(2, plain);
        Assert.Equal("<s>Hi</s>", tok.Decode(plain));
        // Control tokens give no text unless asked for.
        Assert.Equal(" Hi", tok.Decode(parsed)); // the space added after <s> stays, as in llama_detokenize
        Assert.Equal("<s> Hi</s>", tok.Decode(parsed, renderSpecial: true));
    }

    [SkippableFact]
    public void ByteLevelBpeAddsNoBosForGpt2()
    {
        var tok = Load("gpt-2");
        Assert.False(tok.AddBos);
        Assert.Equal(tok.Encode("Hello world", addSpecial: false), tok.Encode("Hello world"));
        Assert.Equal(50256, tok.EosId);
        Assert.Contains(50256, tok.EndOfGenerationIds);
        // <|endoftext|> is split out only when special text is parsed.
        Assert.Equal([50256], tok.Encode("<|endoftext|>", addSpecial: false, parseSpecial: true));
        Assert.NotEqual([50256], tok.Encode("<|endoftext|>", addSpecial: false, parseSpecial: false));
    }

    [SkippableFact]
    public void WordPieceAddsClsAndSep()
    {
        var tok = Load("bert-bge");
        int[] ids = tok.Encode("Hello world");
        Assert.Equal(101, ids[0]);
        Assert.Equal(102, ids[^1]);
        // llama.cpp's WordPiece pieces start words with a space, and its detokenizer keeps it.
        Assert.Equal(" hello world", tok.Decode(ids[1..^1]));
    }

    /// <summary>decode(encode(x)) gives x back where llama.cpp's does: SentencePiece with byte fallback and the
    /// byte-level vocabularies without clean_spaces (those with it turn " ," into "," on purpose).</summary>
    [SkippableTheory]
    [InlineData("llama-spm")]
    [InlineData("phi-3")]
    [InlineData("deepseek-coder")]
    [InlineData("deepseek-llm")]
    public void DecodeOfEncodeRoundTrips(string name)
    {
        var tok = Load(name);
        var cases = LlamaCppVocabCases.Read(LlamaCppVocabCases.Path($"ggml-vocab-{name}.gguf.inp")!, LlamaCppVocabCases.Path($"ggml-vocab-{name}.gguf.out")!);
        foreach (var (input, _) in cases)
        {
            string text = Encoding.UTF8.GetString(input);
            Assert.Equal(text, tok.Decode(tok.Encode(text, addSpecial: false)));
        }
    }

    [SkippableFact]
    public void InvalidUtf8BecomesByteTokensInSentencePieceAndRoundTrips()
    {
        var tok = Load("llama-spm");
        byte[] bad = [0xFF, (byte)'a', 0xC3, 0x28, 0xE2, 0x82];
        int[] ids = tok.EncodeUtf8(bad, addSpecial: false);
        Assert.Equal("<0xFF>", tok.TokenText(ids[1])); // after the leading space; a stray byte is its byte token
        byte[] back = tok.DecodeToUtf8(ids);
        Assert.Equal(bad, back);
    }

    [SkippableFact]
    public void InvalidUtf8BecomesReplacementCharactersInByteLevelBpe()
    {
        var tok = Load("gpt-2");
        int[] ids = tok.EncodeUtf8([0xFF, (byte)'a', 0x80], addSpecial: false);
        Assert.Equal(tok.Encode("\uFFFDa\uFFFD", addSpecial: false), ids);
    }

    [SkippableFact]
    public void StreamingEmitsWholeCharactersOnly()
    {
        var tok = Load("llama-spm");
        string text = " 🦙 llama and 你好 ὑπὸ";
        int[] ids = tok.Encode(text, addSpecial: false);
        var stream = tok.CreateStreamingDetokenizer();
        var sb = new StringBuilder();
        int emptyPieces = 0;
        foreach (int id in ids)
        {
            string piece = stream.Push(id);
            Assert.DoesNotContain('\uFFFD', piece);
            if (piece.Length == 0) emptyPieces++;
            sb.Append(piece);
        }
        sb.Append(stream.Flush());
        Assert.True(emptyPieces > 0, "the llama emoji should take several byte tokens");
        Assert.Equal("  " + text.TrimStart(), sb.ToString()); // raw pieces keep SentencePiece's leading space
    }

    [SkippableFact]
    public void AnIdOutsideTheVocabularyIsRefused()
    {
        var tok = Load("llama-spm");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([5, tok.VocabSize]));
        Assert.Contains("outside the vocabulary", e.Message);
    }
}
