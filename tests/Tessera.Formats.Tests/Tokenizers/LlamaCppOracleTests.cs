using System.Text;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>Pre-tokenizers whose vocabulary llama.cpp's test folder does not ship (llama-bpe, qwen2, and others):
/// a test writes a vocabulary-only GGUF (GPT-2's byte-level tokens and merges, the named pre-tokenizer) and compares
/// our ids, and our decoded text, with llama.cpp's own tokenizer, through LLamaSharp, on seeded random Unicode text.
/// The shipped SentencePiece and WordPiece vocabularies are compared the same way.</summary>
public class LlamaCppOracleTests
{
    [SkippableTheory]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    [InlineData("command-r")]
    [InlineData("gpt-2")]
    [InlineData("falcon")]
    [InlineData("deepseek-llm")]
    [InlineData("deepseek-coder")]
    [InlineData("starcoder")]
    [InlineData("=llama-spm")]
    [InlineData("=phi-3")]
    [InlineData("=bert-bge")]
    [InlineData("@llm/stories260K/stories260K.gguf")]
    public void RandomTextGivesLlamaCppIds(string pre)
    {
        Skip.If(LlamaCppTokenizer.Unavailable is not null, LlamaCppTokenizer.Unavailable ?? "");
        // "=name" reads that shipped vocabulary as it is; otherwise GPT-2's vocabulary gets the named pre-tokenizer.
        // "@path" reads a model under ../shared/models as it is.
        bool asIs = pre[0] is '=' or '@';
        string relative = pre[0] == '@' ? pre[1..] : $"{LlamaCppVocabCases.Folder}/ggml-vocab-{(pre[0] == '=' ? pre[1..] : "gpt-2")}.gguf";
        string? source = WeightBuilderRenameTests.SharedModel(relative);
        Skip.If(source is null, $"../shared/models/{relative} is absent");
        using var dir = new TempDir();
        string path = source!;
        if (!asIs) { path = dir.File($"vocab-{pre}.gguf"); WriteWithPre(source!, path, pre); }

        using var file = GgufFile.Open(path);
        var ours = Tokenizer.FromGguf(file);
        using var theirs = new LlamaCppTokenizer(path);
        var rng = new Random(1234);
        var failures = new List<string>();
        const int count = 300;
        for (int i = 0; i < count; i++)
        {
            string text = RandomText.Next(rng);
            bool addSpecial = i % 2 == 0;
            int[] expected = theirs.Tokenize(text, addSpecial), got = ours.Encode(text, addSpecial);
            if (!got.SequenceEqual(expected) && failures.Count < 10)
                failures.Add($"'{Escape(text)}' (addSpecial {addSpecial}): llama.cpp [{string.Join(' ', expected)}] ours [{string.Join(' ', got)}]");
            byte[] theirText = theirs.Detokenize(expected, renderSpecial: addSpecial), ourText = ours.DecodeToUtf8(expected, renderSpecial: addSpecial);
            if (!ourText.SequenceEqual(theirText) && failures.Count < 10)
                failures.Add($"decode of '{Escape(text)}': llama.cpp '{Escape(Encoding.UTF8.GetString(theirText))}' ours '{Escape(Encoding.UTF8.GetString(ourText))}'");
        }
        Assert.True(failures.Count == 0, $"{pre}: texts differ (first 10):\n{string.Join('\n', failures)}");
    }

    /// <summary>Copies every key of <paramref name="source"/>, with tokenizer.ggml.pre set to <paramref name="pre"/>.</summary>
    internal static void WriteWithPre(string source, string path, string pre)
    {
        using var src = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (string key in src.Keys)
            w.Add(key, key == "tokenizer.ggml.pre" ? GgufValue.From(pre) : src.Values[key]);
        if (!src.Keys.Contains("tokenizer.ggml.pre")) w.Add("tokenizer.ggml.pre", GgufValue.From(pre));
        w.Write(path);
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s) sb.Append(c < 0x20 ? $"\\x{(int)c:X2}" : c.ToString());
        return sb.ToString();
    }
}
