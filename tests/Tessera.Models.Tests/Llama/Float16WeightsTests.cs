using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Conversion;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>f16 and bf16 weights run as they are stored: the loader keeps the projections 16-bit and zero-copy (f32
/// activations in, f32 logits out), widens only the token embedding to f32 for its row lookup, and its memory estimate
/// counts the stored bytes. The logits stay within 16-bit weight rounding of the f32 checkpoint's; llama.cpp on the f16
/// file is ConvertTests' F16 case.</summary>
public sealed class Float16WeightsTests(ITestOutputHelper output)
{
    private static readonly int[] Ids = [1, 17, 250, 3, 99, 0, 42, 260, 7];

    [Theory]
    [InlineData(false), InlineData(true)]
    public void An_f16_gguf_file_runs_its_weights_in_place(bool tied)
    {
        var shape = RandomLlamaShape.LlamaGqa;
        string dir = ConvertFixture.TempDir("f16-gguf");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 13, tied), gguf = Path.Combine(dir, "f16.gguf");
            LlamaGgufConverter.Convert(hf, gguf, new GgufConvertOptions { Type = GgufOutputType.F16 });
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var reference = LlamaLoader.Open(cpu, hf);
            using var model = LlamaLoader.Open(cpu, gguf);
            Assert.Equal(DType.F16, model.Blocks[0].Attention.Q!.Weight.DType);
            Assert.Equal(DType.F16, model.Blocks[1].Mlp is Models.Nn.GatedMlp m ? m.Down.Weight.DType : DType.F32);
            Assert.Equal(DType.F32, model.Embed.Weight.DType);
            Assert.Equal(tied ? DType.F32 : DType.F16, model.Head.Weight.DType); // tied: the embedding's one f32 copy
            double diff = CheckLogits(reference, model);
            output.WriteLine($"f16 GGUF (tied={tied}) vs the f32 checkpoint: max |diff| {diff:E2}");
            Assert.True(diff < 1e-2, $"max |diff| {diff:E2}");

            using var file = WeightFile.Open(gguf);
            var config = Formats.Configs.LlamaConfigFromGguf.Read((Formats.Gguf.GgufFile)file);
            var est = LlamaMemoryEstimate.Of(file, config, 64, "token_embd.weight");
            Assert.Equal(file.Names.Sum(n => file.Info(n).ByteLength), est.WeightBytes); // 2 bytes an f16 weight, 1-D f32 as stored
            Assert.Equal(4L * shape.Vocab * shape.Dim, est.EmbeddingCopyBytes);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_bf16_hugging_face_checkpoint_runs_its_weights_in_place()
    {
        var shape = RandomLlamaShape.Qwen2;
        string dir = ConvertFixture.TempDir("bf16-hf");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed: 17), bf16 = Path.Combine(dir, "bf16");
            Directory.CreateDirectory(bf16);
            foreach (var f in Directory.GetFiles(hf)) File.Copy(f, Path.Combine(bf16, Path.GetFileName(f)));
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            // Every tensor bf16, norms and biases included, as bf16 checkpoints are published.
            var converted = new List<Tensor>();
            var tensors = new List<WeightTensor>();
            using (var f32 = SafetensorsFile.Open(Path.Combine(hf, "model.safetensors")))
                foreach (var name in f32.Names)
                {
                    using var t = f32.Load(name, cpu);
                    converted.Add(t.To(DType.BF16));
                    tensors.Add(WeightTensor.FromTensor(name, converted[^1]));
                }
            SafetensorsWriter.Write(Path.Combine(bf16, "model.safetensors"), tensors);
            converted.ForEach(t => t.Dispose());

            using var reference = LlamaLoader.Open(cpu, hf);
            using var model = LlamaLoader.Open(cpu, bf16);
            Assert.Equal(DType.BF16, model.Blocks[0].Attention.Q!.Weight.DType);
            Assert.Equal(DType.F32, model.Embed.Weight.DType);
            Assert.Equal(DType.F32, model.Blocks[0].Attention.Q!.Bias!.DType);
            double diff = CheckLogits(reference, model);
            output.WriteLine($"bf16 Hugging Face vs f32: max |diff| {diff:E2}");
            Assert.True(diff < 5e-2, $"max |diff| {diff:E2}"); // bf16 keeps 8 bits of mantissa: 2^-9 relative a weight
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // f32 logits from both, and their largest difference.
    private static double CheckLogits(Models.Llama reference, Models.Llama model)
    {
        using var a = reference.Forward(Ids, null);
        using var b = model.Forward(Ids, null);
        Assert.Equal(DType.F32, b.DType);
        return LlamaLogitsTests.MaxDiff(a.ToArray<float>(), b.ToArray<float>());
    }
}
