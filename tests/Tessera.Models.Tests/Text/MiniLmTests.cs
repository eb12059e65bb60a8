using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Onnx;
using Tessera.Formats.Safetensors;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Text;

namespace Tessera.Models.Tests.Text;

/// <summary>all-MiniLM-L6-v2 with its real weights: the BERT encoder loaded from the ONNX initializers (named by their
/// place in the graph) gives the sentence embeddings ONNX Runtime gives on the same file, mean-pooled and normalised
/// the same way, within 1e-5; so does the encoder loaded from a Hugging Face safetensors checkpoint written from those
/// weights under the published names. Paraphrases rank above unrelated sentences; WordPiece ids are the vocab's.</summary>
public sealed class MiniLmTests(MiniLmFiles files) : IClassFixture<MiniLmFiles>
{
    private static readonly string[] Sentences =
    [
        "A man is playing a guitar.",
        "Someone is strumming an acoustic guitar.",
        "The stock market fell sharply on Tuesday.",
        "Share prices dropped steeply this week.",
        "Héllo, wörld! Unaffable naïveté; 東京 in 2024?",
        "a",
    ];

    private static CpuBackend Cpu() => new(new CpuBackendOptions(Threads: 2));

    // ONNX Runtime's last_hidden_state, mean-pooled over each sentence's tokens and normalised (in double).
    private float[][] OrtEmbeddings(IReadOnlyList<int[]> sequences)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        using var session = new InferenceSession(files.Onnx, opts);
        var result = new float[sequences.Count][];
        for (int i = 0; i < sequences.Count; i++)
        {
            var q = sequences[i];
            long[] dims = [1, q.Length];
            using var ids = OrtValue.CreateTensorValueFromMemory(q.Select(v => (long)v).ToArray(), dims);
            using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, q.Length).ToArray(), dims);
            using var types = OrtValue.CreateTensorValueFromMemory(new long[q.Length], dims);
            using var outs = session.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["input_ids"] = ids, ["attention_mask"] = mask, ["token_type_ids"] = types }, ["last_hidden_state"]);
            var h = outs[0].GetTensorDataAsSpan<float>();
            int d = h.Length / q.Length;
            var mean = new double[d];
            for (int t = 0; t < q.Length; t++) for (int j = 0; j < d; j++) mean[j] += h[t * d + j] / (double)q.Length;
            double norm = Math.Sqrt(mean.Sum(v => v * v));
            result[i] = mean.Select(v => (float)(v / norm)).ToArray();
        }
        return result;
    }

    private static void Close(float[][] expected, float[] actual, string what)
    {
        int d = expected[0].Length;
        Assert.Equal(expected.Length * d, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            for (int j = 0; j < d; j++) worst = Math.Max(worst, Math.Abs(actual[i * d + j] - (double)expected[i][j]));
        Assert.True(worst < 1e-5, $"{what}: max |diff| {worst:E2} against ONNX Runtime, limit 1e-5");
    }

    private int[][] Tokenize()
    {
        var tok = WordPieceVocabText.Load(files.Vocab);
        return [.. Sentences.Select(s => tok.Encode(s))];
    }

    [Fact]
    public void Onnx_initializers_load_and_embed_as_onnx_runtime_does()
    {
        using var cpu = Cpu();
        var seqs = Tokenize();
        using var bert = BertOnnx.Load(cpu, files.Onnx);
        Assert.Equal((384, 6, 12, 1536, 30522), (bert.Config.HiddenSize, bert.Config.NumHiddenLayers, bert.Config.NumAttentionHeads, bert.Config.IntermediateSize, bert.Config.VocabSize));
        using var e = bert.SentenceEmbeddings(seqs);                    // one padded batch: the mask must hide the padding
        Close(OrtEmbeddings(seqs), e.ToFloatArray(), "MiniLM from ONNX");
    }

    [Fact]
    public void A_huggingface_bert_checkpoint_of_the_same_weights_embeds_the_same()
    {
        using var cpu = Cpu();
        string dir = Path.Combine(files.Dir, "hf");
        Directory.CreateDirectory(dir);
        var (names, config) = BertOnnx.Map(files.Onnx, cpu);
        var tensors = new List<WeightTensor>();
        using (var onnx = OnnxFile.Open(files.Onnx))
            foreach (var (name, stored) in names)
            {
                using var t = onnx.Load(stored, cpu);
                bool linear = name.EndsWith(".weight", StringComparison.Ordinal) && t.Rank == 2 && !name.StartsWith("embeddings.", StringComparison.Ordinal);
                using var published = linear ? t.Transpose(0, 1).Contiguous() : t.Contiguous(); // PyTorch stores [out, in]
                tensors.Add(WeightTensor.FromValues(name, published.Shape.Dims.ToArray().Select(d => (long)d).ToArray(), published.ToArray<float>()));
            }
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(dir, "config.json"),
            $$"""{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": {{config.VocabSize}}, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12}""");
        var seqs = Tokenize();
        using var bert = Bert.Load(cpu, dir);
        using var e = bert.SentenceEmbeddings(seqs);
        Close(OrtEmbeddings(seqs), e.ToFloatArray(), "MiniLM from safetensors");
    }

    [Fact]
    public void Paraphrases_rank_above_unrelated_sentences()
    {
        using var cpu = Cpu();
        using var bert = BertOnnx.Load(cpu, files.Onnx);
        using var e = bert.SentenceEmbeddings(Tokenize());
        var v = e.ToFloatArray();
        int d = 384;
        double Cos(int a, int b) => Enumerable.Range(0, d).Sum(j => (double)v[a * d + j] * v[b * d + j]);
        Assert.True(Cos(0, 1) > Cos(0, 2) + 0.3 && Cos(0, 1) > Cos(0, 3) + 0.3, $"guitar: paraphrase {Cos(0, 1):F3}, unrelated {Cos(0, 2):F3} / {Cos(0, 3):F3}");
        Assert.True(Cos(2, 3) > Cos(2, 0) + 0.3 && Cos(2, 3) > Cos(2, 1) + 0.3, $"market: paraphrase {Cos(2, 3):F3}, unrelated {Cos(2, 0):F3} / {Cos(2, 1):F3}");
        Assert.InRange(Cos(0, 0), 0.99999, 1.00001);
    }

    [Fact]
    public void Wordpiece_ids_are_the_vocabularys()
    {
        var tok = WordPieceVocabText.Load(files.Vocab);
        var vocab = File.ReadAllText(files.Vocab).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int Id(string piece) => vocab.IndexOf(piece) is >= 0 and var i ? i : throw new KeyNotFoundException(piece);
        Assert.Equal([Id("[CLS]"), Id("hello"), Id(","), Id("world"), Id("!"), Id("[SEP]")], tok.Encode("Hello, world!"));
        // the greedy longest-first split of an unknown word, with "##" continuation pieces; accents stripped; CJK alone
        Assert.Equal([Id("[CLS]"), Id("una"), Id("##ffa"), Id("##ble"), Id("naive"), Id("##te"), Id("[SEP]")], tok.Encode("Unaffable naïveté"));
        Assert.Equal([Id("[CLS]"), Id("em"), Id("##bed"), Id("##ding"), Id("##s"), Id("token"), Id("##ization"), Id("[SEP]")], tok.Encode("embeddings\ttokenization"));
        Assert.Equal([Id("[CLS]"), Id("東"), Id("京"), Id("[SEP]")], tok.Encode("東京"));
        Assert.Equal(101, Id("[CLS]"));
        Assert.Equal(30522, tok.VocabSize);
    }
}
