using System.Text.Json;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>A Hugging Face tokenizer.json written from a llama.cpp vocabulary (the inverse of llama.cpp's converter)
/// gives the same ids as the GGUF it came from, on every case of that vocabulary's test file; and broken files give
/// clear errors.</summary>
public class HuggingFaceJsonTests
{
    private const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [SkippableTheory]
    [InlineData("gpt-2", "gpt-2")]
    [InlineData("gpt-2", "llama-bpe")]
    [InlineData("bert-bge", "")]
    [InlineData("llama-spm", "")]
    public void TokenizerJsonGivesTheGgufIds(string vocab, string pre)
    {
        string? gguf = LlamaCppVocabCases.Path($"ggml-vocab-{vocab}.gguf");
        Skip.If(gguf is null, $"../shared/models/{LlamaCppVocabCases.Folder}/ggml-vocab-{vocab}.gguf is absent");
        using var dir = new TempDir();
        string ggufPath = gguf!;
        if (pre == "llama-bpe") { ggufPath = dir.File("llama-bpe.gguf"); LlamaCppOracleTests.WriteWithPre(gguf!, ggufPath, pre); }
        using var file = GgufFile.Open(ggufPath);
        var expected = Tokenizer.FromGguf(file);
        string json = dir.File("tokenizer.json");
        File.WriteAllText(json, vocab switch { "bert-bge" => WordPieceJson(file), "llama-spm" => SentencePieceJson(file), _ => ByteLevelJson(file, pre) });
        var actual = Tokenizer.FromHuggingFace(json);

        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.VocabSize, actual.VocabSize);
        Assert.Equal(expected.AddBos, actual.AddBos);
        var cases = LlamaCppVocabCases.Read(LlamaCppVocabCases.Path($"ggml-vocab-{vocab}.gguf.inp")!, LlamaCppVocabCases.Path($"ggml-vocab-{vocab}.gguf.out")!);
        foreach (var (input, _) in cases)
            foreach (bool addSpecial in new[] { false, true })
                Assert.Equal(expected.EncodeUtf8(input, addSpecial), actual.EncodeUtf8(input, addSpecial));
    }

    [Fact]
    public void BrokenFilesGiveClearErrors()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        void Expect(string content, string words)
        {
            File.WriteAllText(path, content);
            var e = Assert.Throws<TokenizerException>(() => Tokenizer.FromHuggingFace(path));
            Assert.True(e.Message.Contains(words, StringComparison.Ordinal), e.Message);
        }
        Expect("{ not json", "cannot read tokenizer.json");
        Expect("{}", "no \"model\" object");
        Expect("""{"model":{"type":"Unigram","vocab":{}}}""", "model type 'Unigram' is not supported");
        Expect("""{"model":{"type":"BPE","vocab":{"a":"x"}}}""", "has no valid id");
        Expect("""{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Whitespace"}}""", "without a ByteLevel pre-tokenizer");
        Expect("""{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\w+"}},{"type":"ByteLevel"}]}}""", "not one llama.cpp knows");
        Assert.Throws<TokenizerException>(() => Tokenizer.FromHuggingFace(dir.File("missing.json")));
    }

    private static string ByteLevelJson(GgufFile file, string pre)
    {
        string[] tokens = file.GetArray<string>("tokenizer.ggml.tokens");
        int[] types = file.GetArray<int>("tokenizer.ggml.token_type");
        var vocab = new Dictionary<string, int>();
        var added = new List<object>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (types[i] == 3) added.Add(new { id = i, content = tokens[i], special = true });
            else vocab[tokens[i]] = i;
        }
        object preTokenizer = pre == "llama-bpe"
            ? new { type = "Sequence", pretokenizers = new object[] { new { type = "Split", pattern = new { Regex = Llama3Regex }, behavior = "Isolated" }, new { type = "ByteLevel", use_regex = false } } }
            : new { type = "ByteLevel", add_prefix_space = false, use_regex = true };
        int bos = (int)file.GetUInt32("tokenizer.ggml.bos_token_id");
        object? post = pre == "llama-bpe"
            ? new { type = "TemplateProcessing", single = new object[] { new { SpecialToken = new { id = tokens[bos], type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } } } }
            : null;
        return JsonSerializer.Serialize(new
        {
            added_tokens = added,
            pre_tokenizer = preTokenizer,
            post_processor = post,
            model = new { type = "BPE", vocab, merges = file.GetArray<string>("tokenizer.ggml.merges") },
        });
    }

    /// <summary>Llama 2's layout: BPE with byte fallback, merges as transformers' SentencePiece extractor makes them
    /// (every split of a token into two tokens, ordered by the merged token's score, then by the parts' ids).</summary>
    private static string SentencePieceJson(GgufFile file)
    {
        string[] tokens = file.GetArray<string>("tokenizer.ggml.tokens");
        float[] scores = file.GetArray<float>("tokenizer.ggml.scores");
        int[] types = file.GetArray<int>("tokenizer.ggml.token_type");
        var ids = new Dictionary<string, int>();
        for (int i = 0; i < tokens.Length; i++) ids.TryAdd(tokens[i], i);
        var merges = new List<(float Score, int Merged, int L, int R, string Text)>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (types[i] != 1) continue;
            string s = tokens[i];
            for (int k = 1; k < s.Length; k++)
            {
                if (char.IsLowSurrogate(s[k])) continue;
                if (ids.TryGetValue(s[..k], out int l) && ids.TryGetValue(s[k..], out int r) && types[l] == 1 && types[r] == 1)
                    merges.Add((scores[i], i, l, r, s[..k] + " " + s[k..]));
            }
        }
        var ordered = merges.OrderByDescending(m => m.Score).ThenBy(m => m.L).ThenBy(m => m.R).Select(m => m.Text).ToArray();
        var vocab = new Dictionary<string, int>();
        var added = new List<object>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (types[i] is 2 or 3) added.Add(new { id = i, content = tokens[i], special = true });
            else vocab[tokens[i]] = i;
        }
        return JsonSerializer.Serialize(new
        {
            added_tokens = added,
            normalizer = new { type = "Sequence", normalizers = new object[] { new { type = "Prepend", prepend = "▁" }, new { type = "Replace", pattern = new { String = " " }, content = "▁" } } },
            model = new { type = "BPE", vocab, merges = ordered, byte_fallback = true, fuse_unk = true, unk_token = "<unk>" },
        });
    }

    private static string WordPieceJson(GgufFile file)
    {
        string[] tokens = file.GetArray<string>("tokenizer.ggml.tokens");
        var vocab = new Dictionary<string, int>();
        for (int i = 0; i < tokens.Length; i++)
        {
            string t = tokens[i];
            string hf = t.StartsWith('[') && t.EndsWith(']') ? t : t.StartsWith('▁') ? t[1..] : "##" + t;
            vocab.TryAdd(hf, i);
        }
        return JsonSerializer.Serialize(new
        {
            normalizer = new { type = "BertNormalizer", lowercase = true, strip_accents = (bool?)null },
            model = new { type = "WordPiece", vocab, unk_token = "[UNK]", continuing_subword_prefix = "##" },
        });
    }
}
