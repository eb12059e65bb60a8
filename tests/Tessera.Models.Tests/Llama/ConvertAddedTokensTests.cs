using System.Text.Json.Nodes;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Conversion;

namespace Tessera.Models.Tests.Llama;

/// <summary>tokenizer_config.json's added_tokens_decoder in <c>tessera convert</c>: tokens the checkpoint's vocabulary
/// holds as ordinary pieces but marks as added become control tokens (special, or special-looking) or user-defined
/// tokens in the GGUF file, as llama.cpp's converter writes them; Tessera's tokenizer on the converted file then gives
/// llama.cpp's ids with special text parsed (chat) and not parsed (a plain prompt, where a control token's text stays
/// text but a user-defined token is still matched).</summary>
public sealed class ConvertAddedTokensTests
{
    private const int User = 297, Tool = 298, Assistant = 299;

    [SkippableFact]
    public void Added_tokens_get_llama_cpps_types_and_ids()
    {
        var shape = RandomLlamaShape.LlamaGqa;
        string dir = ConvertFixture.TempDir("convert-added");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 5), gguf = Path.Combine(dir, "out.gguf");
            AddTokens(hf, (User, "<|user|>", true), (Tool, "<tool>", false), (Assistant, "<|assistant|>", false));
            LlamaGgufConverter.Convert(hf, gguf, new GgufConvertOptions { Type = GgufOutputType.F32 });
            using var file = GgufFile.Open(gguf);
            var tokens = file.Get<string[]>("tokenizer.ggml.tokens");
            var types = file.Get<int[]>("tokenizer.ggml.token_type");
            Assert.Equal(["<|user|>", "<tool>", "<|assistant|>"], tokens[User..]);
            Assert.Equal(3, types[User]);       // special: control
            Assert.Equal(4, types[Tool]);       // not special: user-defined
            Assert.Equal(3, types[Assistant]);  // not marked special, but "<|...|>" looks it: control, as gguf-py decides
            Assert.Equal(1, types[User - 1]);   // an ordinary piece stays normal

            var tessera = Tokenizer.FromGguf(file);
            string[] texts = ["the cat<tool> ran", "<|user|>the dog<|assistant|>", "sat <tool><|user|>", "<|user|x"];
            // A plain prompt (tessera generate): control text is text, user-defined text is its token.
            Assert.DoesNotContain(User, tessera.Encode(texts[1], addSpecial: true, parseSpecial: false));
            Assert.Contains(Tool, tessera.Encode(texts[0], addSpecial: true, parseSpecial: false));
            // A chat template's text: control tokens are parsed.
            Assert.Equal(User, tessera.Encode(texts[1], addSpecial: false, parseSpecial: true)[0]);

            Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
            using var oracle = new LlamaCpp(gguf);
            foreach (var text in texts)
            {
                Assert.Equal(oracle.Tokenize(text, addBos: true, special: false), tessera.Encode(text, addSpecial: true, parseSpecial: false));
                Assert.Equal(oracle.Tokenize(text, addBos: false, special: true), tessera.Encode(text, addSpecial: false, parseSpecial: true));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_bad_added_tokens_decoder_is_named()
    {
        var shape = RandomLlamaShape.LlamaGqa;
        string dir = ConvertFixture.TempDir("convert-added-bad");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 5), gguf = Path.Combine(dir, "out.gguf");
            string cfg = Path.Combine(hf, "tokenizer_config.json"), good = File.ReadAllText(cfg);
            foreach (var (decoder, want) in new[]
            {
                ("{\"300\": {\"content\": \"<x>\", \"special\": true}}", "added_tokens_decoder[300] ('<x>') is past the vocabulary's 300 tokens"),
                ("{\"abc\": {\"content\": \"<x>\"}}", "added_tokens_decoder key 'abc' is not a token id"),
                ("{\"5\": {\"special\": true}}", "added_tokens_decoder[5] has no \"content\" string"),
                ("[1, 2]", "added_tokens_decoder is not an object"),
            })
            {
                var node = JsonNode.Parse(good)!.AsObject();
                node["added_tokens_decoder"] = JsonNode.Parse(decoder);
                File.WriteAllText(cfg, node.ToJsonString());
                var e = Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(hf, gguf));
                Assert.Contains(want, e.Message);
                Assert.False(File.Exists(gguf));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // Renames vocabulary pieces of tokenizer.json (ordinary pieces, as in a checkpoint whose added tokens live in the
    // model's vocabulary) and lists them in tokenizer_config.json's added_tokens_decoder with their special flags.
    private static void AddTokens(string hf, params (int Id, string Content, bool Special)[] added)
    {
        string json = Path.Combine(hf, "tokenizer.json"), cfg = Path.Combine(hf, "tokenizer_config.json");
        var tok = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        var vocab = tok["model"]!["vocab"]!.AsObject();
        foreach (var (id, content, _) in added)
        {
            string old = vocab.First(p => (int)p.Value! == id).Key;
            vocab.Remove(old);
            vocab[content] = id;
        }
        File.WriteAllText(json, tok.ToJsonString());
        var config = JsonNode.Parse(File.ReadAllText(cfg))!.AsObject();
        var decoder = new JsonObject();
        foreach (var (id, content, special) in added)
            decoder[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = content, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = special,
            };
        config["added_tokens_decoder"] = decoder;
        File.WriteAllText(cfg, config.ToJsonString());
    }
}
