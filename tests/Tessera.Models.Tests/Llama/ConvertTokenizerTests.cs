using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Formats.Safetensors;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Conversion;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>A Qwen2-style checkpoint, sharded (model.safetensors.index.json), with a byte-level BPE tokenizer.json
/// (Qwen2's split regex, merges, added special tokens, no BOS): the converted file carries llama.cpp's "gpt2" model, the
/// "qwen2" pre-tokenizer, the merges and the special ids, tokenizes as tokenizer.json does in Tessera and in llama.cpp,
/// and gives the checkpoint's logits in Tessera and in llama.cpp.</summary>
public sealed class ConvertTokenizerTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void A_sharded_byte_level_bpe_checkpoint_converts_with_its_tokenizer()
    {
        var shape = RandomLlamaShape.Qwen2;
        string dir = ConvertFixture.TempDir("convert-bpe");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 71), gguf = Path.Combine(dir, "out.gguf");
            ByteLevelTokenizerJson.Write(hf, shape.Vocab);
            Reshard(hf);
            Assert.True(File.Exists(Path.Combine(hf, "model.safetensors.index.json")));
            LlamaGgufConverter.Convert(hf, gguf, new GgufConvertOptions { Type = GgufOutputType.F32 });

            using (var file = GgufFile.Open(gguf))
            {
                Assert.Equal("gpt2", file.GetString("tokenizer.ggml.model"));
                Assert.Equal("qwen2", file.GetString("tokenizer.ggml.pre"));
                Assert.NotEmpty(file.Get<string[]>("tokenizer.ggml.merges"));
                var tokens = file.Get<string[]>("tokenizer.ggml.tokens");
                Assert.Equal(Array.IndexOf(tokens, "<|im_end|>"), (int)file.Get<uint>("tokenizer.ggml.eos_token_id"));
                Assert.Equal(Array.IndexOf(tokens, "<|endoftext|>"), (int)file.Get<uint>("tokenizer.ggml.padding_token_id"));
                Assert.False(file.Get<bool>("tokenizer.ggml.add_bos_token"));
                var types = file.Get<int[]>("tokenizer.ggml.token_type");
                Assert.Equal(3, types[Array.IndexOf(tokens, "<|im_start|>")]); // control

                var fromJson = Tokenizer.FromHuggingFace(Path.Combine(hf, "tokenizer.json"));
                var fromGguf = Tokenizer.FromGguf(file);
                var rng = new Random(9);
                var texts = Enumerable.Range(0, 30).Select(_ => ByteLevelTokenizerJson.RandomText(rng, 1 + rng.Next(10))).ToList();
                foreach (var text in texts) Assert.Equal(fromJson.Encode(text), fromGguf.Encode(text));
                Assert.Contains(texts, t => fromJson.Encode(t).Any(id => id >= 256)); // merges were used

                using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
                using var a = LlamaLoader.Open(cpu, hf);
                using var b = LlamaLoader.Open(cpu, gguf);
                double diff = ConvertFixture.LogitDiff(a, b, [0, 17, 250, 3, 99, 277, 42]);
                Assert.True(diff < 1e-5, $"sharded Hugging Face vs converted: {diff:E2}");

                Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
                using var oracle = new LlamaCpp(gguf);
                foreach (var text in texts) Assert.Equal(fromJson.Encode(text), oracle.Tokenize(text));
                var worst = LlamaLogitsTests.Compare(b, oracle, new Random(73));
                output.WriteLine($"qwen2 byte-level, sharded: llama.cpp max |diff| prefill {worst.Prefill:E2}, decode {worst.Decode:E2}");
                Assert.True(worst.Prefill < 1e-3 && worst.Decode < 1e-3);
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // model.safetensors -> model-0000N-of-0000M.safetensors + model.safetensors.index.json.
    private static void Reshard(string hf)
    {
        string single = Path.Combine(hf, "model.safetensors");
        var tensors = new List<WeightTensor>();
        using (var file = SafetensorsFile.Open(single))
        {
            var bytes = File.ReadAllBytes(single);
            foreach (var name in file.Names)
            {
                var info = file.Info(name);
                tensors.Add(WeightTensor.FromBytes(name, info.DType!.Value, [.. info.Dims], bytes.AsSpan((int)info.Offset, (int)info.ByteLength).ToArray()));
            }
        }
        SafetensorsWriter.WriteSharded(hf, tensors, maxShardBytes: 40_000);
        File.Delete(single);
    }
}
