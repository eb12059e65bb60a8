using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Llama2c;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Conversion;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>llama2.c's side: stories260K's tok512.bin read as llama.cpp's convert-llama2c-to-ggml reads it (the tokens,
/// scores and types stories260K.gguf carries, which that tool wrote), and a llama2.c checkpoint with that tokenizer
/// converted to GGUF: the same logits in Tessera, and llama.cpp loads it and agrees, ids included.</summary>
public sealed class Llama2cConvertTests(ITestOutputHelper output)
{
    private static string? Stories(string file) => LlamaStories260KTests.ModelPath() is { } gguf ? Path.Combine(Path.GetDirectoryName(gguf)!, file) : null;

    private static string RequireStories(string file)
    {
        string? path = Stories(file);
        Skip.If(path is null || !File.Exists(path), $"{file} is absent (expected in ../shared/models/llm/stories260K: {path})");
        return path!;
    }

    [SkippableFact]
    public void Tok512_bin_reads_as_llama_cpps_converter_wrote_it()
    {
        string bin = RequireStories("tok512.bin"), gguf = RequireStories("stories260K.gguf");
        var keys = Llama2cTokenizer.GgufMetadata(bin, 512).ToDictionary(k => k.Key, k => k.Value);
        using var file = GgufFile.Open(gguf);
        foreach (var key in new[] { "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                                     "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id" })
            Assert.True(keys[key].ContentEquals(file.GetValue(key)), $"{key}: {keys[key]} vs {file.GetValue(key)}");

        var fromBin = Llama2cTokenizer.Open(bin, 512);
        var fromGguf = Tokenizer.FromGguf(file);
        var rng = new Random(3);
        foreach (var text in new[] { "Once upon a time, there was a little girl named Lily.", "", " \n\ttabs", "Zoë's café: 42 €!", "日本語" }
                     .Concat(Enumerable.Range(0, 30).Select(_ => RandomWords(rng))))
            Assert.Equal(fromGguf.Encode(text), fromBin.Encode(text));
        Assert.Throws<TokenizerException>(() => Llama2cTokenizer.Open(bin, 5000)); // the file ends before 5000 tokens
    }

    [SkippableFact]
    public void Tok512_model_a_sentencepiece_tokenizer_model_gives_the_same_vocabulary()
    {
        string model = RequireStories("tok512.model"), gguf = RequireStories("stories260K.gguf");
        string dir = ConvertFixture.TempDir("spm-model");
        try
        {
            File.Copy(model, Path.Combine(dir, "tokenizer.model"));
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"vocab_size": 512}""");
            var keys = GgufTokenizerMetadata.FromHuggingFace(dir).ToDictionary(k => k.Key, k => k.Value);
            using var file = GgufFile.Open(gguf);
            foreach (var key in new[] { "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                                         "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id" })
                Assert.True(keys[key].ContentEquals(file.GetValue(key)), $"{key}: {keys[key]} vs {file.GetValue(key)}");
            Assert.True((bool)keys["tokenizer.ggml.add_space_prefix"].Value);
            // A larger vocab_size pads with unused tokens, as llama.cpp's converter does.
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"vocab_size": 520}""");
            var padded = GgufTokenizerMetadata.FromHuggingFace(dir).ToDictionary(k => k.Key, k => k.Value);
            Assert.Equal(520, padded["tokenizer.ggml.tokens"].Count);
            Assert.Equal("[PAD519]", ((string[])padded["tokenizer.ggml.tokens"].Value)[519]);
            File.WriteAllBytes(Path.Combine(dir, "tokenizer.model"), [0x0A, 0xFF]);
            Assert.Throws<TokenizerException>(() => GgufTokenizerMetadata.FromHuggingFace(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableTheory]
    [InlineData(false), InlineData(true)]
    public void A_llama2c_checkpoint_converts_and_llama_cpp_agrees(bool tied)
    {
        string tok = RequireStories("tok512.bin");
        var shape = RandomLlamaShape.LlamaGqa with { Vocab = 512 };
        string dir = ConvertFixture.TempDir("convert-l2c");
        try
        {
            string source = Path.Combine(dir, "source.gguf"), bin = Path.Combine(dir, "model.bin"), gguf = Path.Combine(dir, "out.gguf");
            RandomLlamaGguf.Write(source, shape, seed: 41, tied: tied);
            Llama2cTests.WriteBin(source, shape, bin);
            File.Copy(tok, Path.Combine(dir, Llama2cTokenizer.DefaultFileName));
            var result = LlamaGgufConverter.Convert(bin, gguf, new GgufConvertOptions { Type = GgufOutputType.F32 });
            Assert.Equal(512, result.TokenCount);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using (var a = LlamaLoader.Open(cpu, bin))
            using (var b = LlamaLoader.Open(cpu, gguf))
                Assert.True(ConvertFixture.LogitDiff(a, b, [1, 17, 250, 3, 99, 0, 42, 511]) < 1e-5);

            Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
            using var oracle = new LlamaCpp(gguf);
            using var model = LlamaLoader.Open(cpu, gguf);
            var worst = LlamaLogitsTests.Compare(model, oracle, new Random(43));
            output.WriteLine($"llama2.c tied={tied} converted: max |diff| prefill {worst.Prefill:E2}, decode {worst.Decode:E2}");
            Assert.True(worst.Prefill < 1e-3 && worst.Decode < 1e-3, $"prefill {worst.Prefill:E2}, decode {worst.Decode:E2}");
            var tokenizer = Llama2cTokenizer.Open(Path.Combine(dir, Llama2cTokenizer.DefaultFileName), 512);
            foreach (var text in new[] { "Once upon a time", "She saw a big dog. It was happy!" })
                Assert.Equal(oracle.Tokenize(text), tokenizer.Encode(text));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_bad_tokenizer_bin_is_refused()
    {
        string dir = ConvertFixture.TempDir("l2c-tok");
        try
        {
            string path = Path.Combine(dir, "tokenizer.bin");
            File.WriteAllBytes(path, [1, 2]);
            Assert.Contains("header", Assert.Throws<TokenizerException>(() => Llama2cTokenizer.Open(path, 10)).Message);
            // max_token_length 4, then a token claiming 1000 bytes.
            File.WriteAllBytes(path, [4, 0, 0, 0, 0, 0, 0, 0, 0xE8, 0x03, 0, 0, 65]);
            Assert.Contains("length 1000", Assert.Throws<TokenizerException>(() => Llama2cTokenizer.Open(path, 10)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static string RandomWords(Random rng)
    {
        string[] words = ["Lily", "the", "park", "big", "dog", "was", "happy", "ran", "to", "mom", "ball", "tree", "sun", "x", "q"];
        return string.Join(rng.Next(4) == 0 ? ", " : " ", Enumerable.Range(0, 1 + rng.Next(10)).Select(_ => words[rng.Next(words.Length)]));
    }
}
