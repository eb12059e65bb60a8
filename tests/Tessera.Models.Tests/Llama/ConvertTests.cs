using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Conversion;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary><c>tessera convert</c>'s engine on Hugging Face checkpoints the tests write (random weights, config.json, a
/// tokenizer.json with merges and byte fallback): the converted GGUF gives the checkpoint's logits in Tessera, llama.cpp
/// loads it and agrees with Tessera on it (F32 to 1e-6, F16 1e-2, quantized types 3e-2: see the measurements at
/// the cases), its tokenizer gives the same ids as tokenizer.json in Tessera and in llama.cpp, and the types follow
/// llama.cpp's quantizer (1-D tensors f32, the output projection Q6_K with 4-bit types, fallbacks for odd widths).</summary>
public sealed class ConvertTests(ITestOutputHelper output)
{
    private static readonly int[] Ids = [1, 17, 250, 3, 99, 0, 42, 260, 7, 8, 9];

    [Theory]
    [InlineData("llama-gqa", false), InlineData("llama-gqa", true), InlineData("qwen2", false)]
    public void The_converted_file_gives_the_checkpoints_logits(string shapeName, bool tied)
    {
        var shape = RandomLlamaShape.Named(shapeName);
        string dir = ConvertFixture.TempDir("convert");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 21, tied), gguf = Path.Combine(dir, "out.gguf");
            var result = LlamaGgufConverter.Convert(hf, gguf, new GgufConvertOptions { Type = GgufOutputType.F32 });
            Assert.Equal(shape.Arch, result.Architecture);
            using (var file = GgufFile.Open(gguf))
            {
                Assert.Equal(shape.Arch, file.Architecture());
                Assert.Equal(!tied, file.Contains("output.weight"));
                Assert.True(file.Contains("blk.0.attn_q.weight") && file.Contains("token_embd.weight") && file.Contains("output_norm.weight"));
                Assert.Equal((long)shape.Heads * (shape.Dim / shape.Heads), file.Info("blk.0.attn_q.weight").Dims[0]);
                Assert.Equal(HfTokenizerJson.ChatTemplate, file.GetString("tokenizer.chat_template"));
                Assert.Equal((uint)shape.KvHeads, file.Get<uint>($"{shape.Arch}.attention.head_count_kv"));
            }
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var a = LlamaLoader.Open(cpu, hf);
            using var b = LlamaLoader.Open(cpu, gguf);
            double diff = ConvertFixture.LogitDiff(a, b, Ids);
            output.WriteLine($"{shapeName} tied={tied}: Hugging Face vs converted GGUF, max |diff| {diff:E2}");
            Assert.True(diff < 1e-5, $"max |diff| {diff:E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // Both engines quantize activations as ggml does (Q8_0 blocks with fp16 scales, Q8_K); F32 files agree to 1e-6, F16
    // to 1.5e-3 (ggml rounds the activations to f16 too). Quantized converted files agree to 1e-6 at most seeds, but some
    // (a quantized token embedding, a Q8_0 output) reach 2.4e-2 in prefill and 4.7e-2 in one decode step (measured
    // here): an activation on a rounding boundary after last-bit differences upstream quantizes the other way. That is
    // an open question (the lead's note); LlamaLogitsTests holds the engine to 1e-3 on its own files. These tests look
    // for conversion errors (a wrong permutation, a wrong type, a shifted row), which move logits by O(1).
    public static TheoryData<string, string, string, double> OracleCases() => new()
    {
        { "llama-gqa", "F32", "", 1e-3 },
        { "qwen2", "F32", "", 1e-3 },
        { "llama-gqa", "F16", "", 1e-2 },
        { "llama-blocks", "Q8_0", "", 3e-2 },
        { "llama-blocks", "Q8_0", "Q8_0/F32", 3e-2 },
        { "qwen2-blocks", "Q4_0", "", 3e-2 },
        { "llama-superblocks", "Q4_K", "Q4_K", 3e-2 },
        { "llama-superblocks", "Q4_K", "Q4_K/F32", 3e-2 },
        // llama.cpp's rule: the output projection in Q6_K.
        { "llama-superblocks", "Q4_K", "", 3e-2 },
        { "llama-superblocks", "Q4_0", "", 3e-2 },
    };

    [SkippableTheory]
    [MemberData(nameof(OracleCases))]
    public void Llama_cpp_loads_the_converted_file_and_agrees(string shapeName, string type, string outputType, double tolerance)
    {
        Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
        var shape = RandomLlamaShape.Named(shapeName);
        string dir = ConvertFixture.TempDir("convert-cpp");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 23), gguf = Path.Combine(dir, "out.gguf");
            var result = LlamaGgufConverter.Convert(hf, gguf, new GgufConvertOptions
            {
                Type = GgufConvertOptions.ParseType(type),
                OutputTensorType = outputType == "" ? null : Enum.Parse<GgmlType>(outputType.Split('/')[0]),
                TokenEmbeddingType = outputType.Contains('/') ? Enum.Parse<GgmlType>(outputType.Split('/')[1]) : null,
            });
            output.WriteLine(string.Join(", ", result.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Count()} {g.Key}")));
            foreach (var t in result.Tensors.Where(t => t.Dims.Length == 1)) Assert.Equal(GgmlType.F32, t.Type);
            using var oracle = new LlamaCpp(gguf);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, gguf);
            Assert.Equal(shape.Vocab, oracle.Vocab);
            var worst = LlamaLogitsTests.Compare(model, oracle, new Random(31), promptLength: 6);
            output.WriteLine($"{shapeName} {type}: Tessera vs llama.cpp on the converted file, max |diff| prefill {worst.Prefill:E2}, decode {worst.Decode:E2} (median step {worst.DecodeMedian:E2})");
            Assert.True(worst.Prefill < tolerance && worst.DecodeMedian < tolerance, $"prefill {worst.Prefill:E2}, median decode step {worst.DecodeMedian:E2}");
            Assert.True(worst.Decode < Math.Max(tolerance, 5e-2), $"decode {worst.Decode:E2}");

            // The tokenizer: tokenizer.json in Tessera, the converted vocabulary in Tessera and in llama.cpp.
            var fromJson = Tokenizer.FromHuggingFace(Path.Combine(hf, "tokenizer.json"));
            using var file = GgufFile.Open(gguf);
            var fromGguf = Tokenizer.FromGguf(file);
            var rng = new Random(5);
            for (int i = 0; i < 20; i++)
            {
                string text = HfTokenizerJson.RandomText(rng, 1 + rng.Next(12));
                int[] want = fromJson.Encode(text);
                Assert.Equal(want, fromGguf.Encode(text));
                Assert.Equal(want, oracle.Tokenize(text));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Types_follow_llama_cpps_quantizer()
    {
        Assert.Equal(GgmlType.F32, GgufTensorTypes.For("blk.0.attn_norm.weight", [256], GgufOutputType.Q4_0, true));
        Assert.Equal(GgmlType.F32, GgufTensorTypes.For("blk.0.attn_q.bias", [256], GgufOutputType.F16, true));
        Assert.Equal(GgmlType.Q4_0, GgufTensorTypes.For("blk.0.attn_q.weight", [256, 256], GgufOutputType.Q4_0, true));
        Assert.Equal(GgmlType.Q6_K, GgufTensorTypes.For("output.weight", [300, 256], GgufOutputType.Q4_0, true));
        Assert.Equal(GgmlType.Q6_K, GgufTensorTypes.For("token_embd.weight", [300, 256], GgufOutputType.Q4_K, false)); // tied: the embedding is the output
        Assert.Equal(GgmlType.Q4_K, GgufTensorTypes.For("token_embd.weight", [300, 256], GgufOutputType.Q4_K, true));
        Assert.Equal(GgmlType.Q8_0, GgufTensorTypes.For("output.weight", [300, 96], GgufOutputType.Q4_0, true));
        Assert.Equal(GgmlType.Q8_0, GgufTensorTypes.For("blk.0.ffn_up.weight", [160, 96], GgufOutputType.Q4_K, true));
        Assert.Equal(GgmlType.F16, GgufTensorTypes.For("blk.0.ffn_up.weight", [100, 72], GgufOutputType.Q8_0, true));
        Assert.Equal(GgmlType.Q8_0, GgufTensorTypes.For("output.weight", [300, 96], GgufOutputType.Q8_0, true));
    }

    [Fact]
    public void The_row_permutation_is_llama_cpps()
    {
        // llama.cpp: w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols).
        const int heads = 3, hd = 8, rows = heads * hd;
        var perm = new QkRowPermutation("q", rows, heads);
        for (int r = 0; r < rows; r++)
        {
            int h = r / hd, i = r % hd / 2, j = r % 2;      // output index (h, i, j) of the swapped [h, hd/2, 2] view
            Assert.Equal(h * hd + j * (hd / 2) + i, perm.SourceRow(r)); // reads input (h, j, i) of [h, 2, hd/2]
        }
        Assert.Throws<TesseraException>(() => new QkRowPermutation("k", 30, 4));
    }

    [Fact]
    public void Bad_checkpoints_are_refused_with_the_reason()
    {
        var shape = RandomLlamaShape.LlamaGqa;
        string dir = ConvertFixture.TempDir("convert-bad");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 3), gguf = Path.Combine(dir, "out.gguf");
            // A tokenizer of another size than the embedding.
            HfTokenizerJson.Write(hf, shape.Vocab + 4);
            var e = Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(hf, gguf));
            Assert.Contains($"{shape.Vocab + 4} tokens", e.Message);
            Assert.False(File.Exists(gguf));
            HfTokenizerJson.Write(hf, shape.Vocab);
            // An architecture the converter does not write.
            string cfg = Path.Combine(hf, "config.json"), good = File.ReadAllText(cfg);
            File.WriteAllText(cfg, good.Replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\""));
            Assert.Contains("model_type", Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(hf, gguf)).Message);
            // A RoPE scaling the decoder does not build.
            File.WriteAllText(cfg, good.Replace("\"bos_token_id\"", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}, \"bos_token_id\""));
            Assert.Contains("yarn", Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(hf, gguf)).Message);
            File.WriteAllText(cfg, good);
            // A GGUF file is not converted again, and a missing input is named.
            LlamaGgufConverter.Convert(hf, gguf);
            Assert.Contains("already GGUF", Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(gguf, Path.Combine(dir, "again.gguf"))).Message);
            Assert.Contains("no such file", Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(Path.Combine(dir, "none"), Path.Combine(dir, "x.gguf"))).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
