using Tessera.Cpu;
using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;
using Tessera.Models.Conversion;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>RoPE scaling: Llama 3's inverse frequencies against Meta's reference (<c>apply_scaling</c> in
/// llama-models' reference model, written out below), linear scaling, and the whole chain: a Hugging Face checkpoint
/// with <c>rope_scaling</c> and the GGUF converted from it (<c>rope_freqs.weight</c>, or the linear scaling keys) give
/// the same logits in Tessera, which differ from the unscaled model's, and llama.cpp agrees on the converted file.</summary>
public sealed class RopeScalingTests(ITestOutputHelper output)
{
    // Meta's llama3 reference (models/llama3/reference_impl/model.py), in doubles.
    private static double[] MetaApplyScaling(double[] freqs, double scaleFactor, double lowFreqFactor, double highFreqFactor, double oldContextLen)
    {
        double lowFreqWavelen = oldContextLen / lowFreqFactor, highFreqWavelen = oldContextLen / highFreqFactor;
        var result = new double[freqs.Length];
        for (int i = 0; i < freqs.Length; i++)
        {
            double freq = freqs[i], wavelen = 2 * Math.PI / freq;
            if (wavelen < highFreqWavelen) result[i] = freq;
            else if (wavelen > lowFreqWavelen) result[i] = freq / scaleFactor;
            else
            {
                double smooth = (oldContextLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                result[i] = (1 - smooth) * freq / scaleFactor + smooth * freq;
            }
        }
        return result;
    }

    // precompute_freqs_cis: 1 / theta^(arange(0, dim, 2) / dim).
    private static double[] MetaFreqs(double theta, int dim) => Enumerable.Range(0, dim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / dim)).ToArray();

    private static LlamaConfig Config(double theta, int hd, RopeScaling? scaling) => new()
    {
        HiddenSize = hd * 4, IntermediateSize = 8, NumHiddenLayers = 1, NumAttentionHeads = 4, VocabSize = 8, RopeTheta = theta, RopeScaling = scaling,
    };

    [Theory]
    [InlineData(500000.0, 128, 8.0, 1.0, 4.0, 8192)]    // Llama 3.1
    [InlineData(500000.0, 64, 32.0, 1.0, 4.0, 8192)]    // Llama 3.2 1B
    [InlineData(10000.0, 12, 8.0, 1.0, 4.0, 256)]       // the test model's
    [InlineData(10000.0, 16, 4.0, 2.0, 3.0, 100)]
    public void Llama3_frequencies_equal_metas_reference(double theta, int hd, double factor, double low, double high, int original)
    {
        var scaling = new RopeScaling { RopeType = "llama3", Factor = factor, LowFreqFactor = low, HighFreqFactor = high, OriginalMaxPositionEmbeddings = original };
        var got = LlamaRopeFrequencies.Compute(Config(theta, hd, scaling), hd);
        var want = MetaApplyScaling(MetaFreqs(theta, hd), factor, low, high, original);
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) <= 1e-12 * want[i], $"pair {i}: {got[i]} vs {want[i]}");
        // Some pairs keep their frequency and some are divided: the test exercises both ends.
        var plain = MetaFreqs(theta, hd);
        Assert.Contains(Enumerable.Range(0, hd / 2), i => got[i] == plain[i]);
        Assert.Contains(Enumerable.Range(0, hd / 2), i => Math.Abs(got[i] * factor - plain[i]) < 1e-15);
    }

    [Fact]
    public void Linear_scaling_divides_every_frequency_and_bad_parameters_are_named()
    {
        var got = LlamaRopeFrequencies.Compute(Config(10000, 16, new RopeScaling { Type = "linear", Factor = 4 }), 16);
        var plain = MetaFreqs(10000, 16);
        for (int i = 0; i < 8; i++) Assert.Equal(plain[i] / 4, got[i], 15);
        var e = Assert.Throws<ConfigException>(() => LlamaRopeFrequencies.Compute(Config(10000, 16, new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4 }), 16));
        Assert.Equal("rope_scaling.original_max_position_embeddings", e.Key);
        e = Assert.Throws<ConfigException>(() => LlamaRopeFrequencies.Compute(Config(10000, 16, new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 4, HighFreqFactor = 1, OriginalMaxPositionEmbeddings = 64 }), 16));
        Assert.Equal("rope_scaling.high_freq_factor", e.Key);
        e = Assert.Throws<ConfigException>(() => LlamaRopeFrequencies.Compute(Config(10000, 16, new RopeScaling { RopeType = "dynamic", Factor = 2 }), 16));
        Assert.Contains("dynamic", e.Message);
    }

    public static TheoryData<string, string> Scalings() => new()
    {
        { "llama-gqa", """{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 256}""" },
        { "qwen2", """{"type": "linear", "factor": 2.0}""" },
        { "llama-gqa", """{"type": "linear", "factor": 4.0}""" },
    };

    [SkippableTheory]
    [MemberData(nameof(Scalings))]
    public void A_scaled_checkpoint_and_its_conversion_agree_with_llama_cpp(string shapeName, string scaling)
    {
        var shape = RandomLlamaShape.Named(shapeName);
        string dir = ConvertFixture.TempDir("rope-scaling");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 51, ropeScalingJson: scaling), gguf = Path.Combine(dir, "out.gguf");
            string plainHf = ConvertFixture.HuggingFace(Path.Combine(dir, "plain"), shape, seed: 51);
            LlamaGgufConverter.Convert(hf, gguf, new GgufConvertOptions { Type = GgufOutputType.F32 });
            using (var file = GgufFile.Open(gguf))
                Assert.Equal(scaling.Contains("llama3"), file.Contains("rope_freqs.weight"));
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var a = LlamaLoader.Open(cpu, hf);
            using var b = LlamaLoader.Open(cpu, gguf);
            using var plain = LlamaLoader.Open(cpu, plainHf);
            var ids = Enumerable.Range(0, 40).Select(i => (i * 37 + 5) % shape.Vocab).ToArray();
            double same = ConvertFixture.LogitDiff(a, b, ids), scaled = ConvertFixture.LogitDiff(a, plain, ids);
            output.WriteLine($"{shapeName} {scaling}: Hugging Face vs GGUF {same:E2}; scaled vs unscaled {scaled:E2}");
            Assert.True(same < 1e-5, $"Hugging Face vs converted GGUF: {same:E2}");
            Assert.True(scaled > 1e-3, $"the scaling changed nothing ({scaled:E2})");

            Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
            using var oracle = new LlamaCpp(gguf);
            var worst = LlamaLogitsTests.Compare(b, oracle, new Random(53));
            output.WriteLine($"  llama.cpp: prefill {worst.Prefill:E2}, decode {worst.Decode:E2}");
            Assert.True(worst.Prefill < 1e-3 && worst.Decode < 1e-3, $"prefill {worst.Prefill:E2}, decode {worst.Decode:E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Llama3_scaling_is_not_written_for_an_architecture_llama_cpp_would_not_read_it_in()
    {
        string dir = ConvertFixture.TempDir("rope-qwen2");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, RandomLlamaShape.Qwen2, seed: 55,
                ropeScalingJson: """{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}""");
            using (var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1)))
            using (LlamaLoader.Open(cpu, hf)) { } // Tessera builds it from the Hugging Face directory
            var e = Assert.ThrowsAny<TesseraException>(() => LlamaGgufConverter.Convert(hf, Path.Combine(dir, "out.gguf")));
            Assert.Contains("rope_freqs", e.Message);
            Assert.False(File.Exists(Path.Combine(dir, "out.gguf")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
