using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Models.Tests.Diffusion;
using Tessera.Models.Vision;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Vision;

/// <summary>Linear weights quantized to Q8_0 at load (<see cref="VisionLoadOptions"/>, <see cref="QuantizingWeightSource"/>)
/// against the same model in f32: which tensors are quantized, and the cosine of the embeddings (the bar: 0.999)
/// on a random-weight ViT and on the real MNIST ViT.</summary>
public sealed class VisionQuantizeTests(ITestOutputHelper output) : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-vision-q8-").FullName;

    [Fact]
    public void A_vit_loaded_with_q8_0_keeps_its_embedding_within_cosine_0_999_of_f32()
    {
        // Width 64 in 4 heads, MLP 128: every linear's input is a whole number of 32-value blocks.
        var c = new RandomCheckpoint(_dir, 11);
        c.Write(VisionCases.Vit(c, layers: 3, labels: 7, dim: 64, heads: 4, mlp: 128), "vit", -2);
        using var f32 = Vit.Load(_cpu, _dir);
        using var q8 = Vit.Load(_cpu, _dir, new VisionLoadOptions(DType.Q8_0));
        Assert.Equal(DType.Q8_0, q8.Classifier!.Weight.DType);
        Assert.Equal(DType.F32, f32.Classifier!.Weight.DType);
        Assert.Equal(DType.F32, q8.Norm.Weight!.DType);                               // norms stay as stored
        Assert.Equal(DType.F32, q8.Classifier.Bias!.DType);

        var rng = new Random(2);
        using var pixels = Tensor.FromArray(_cpu, Enumerable.Range(0, 4 * 3 * 30 * 30).Select(_ => (float)(rng.NextDouble() * 3 - 1.5)).ToArray(), 4, 3, 30, 30);
        using var a = f32.Forward(pixels);
        using var b = q8.Forward(pixels);
        double cos = MinRowCosine(a.Pooled, b.Pooled);
        output.WriteLine($"random ViT (width 64, 3 layers), q8_0 vs f32: lowest cosine of the pooled embedding over 4 images {cos:F6}");
        Assert.True(cos >= 0.999, $"q8_0 pooled embedding cosine {cos:F6} < 0.999");
        Assert.True(cos < 1 - 1e-9, "the q8_0 model gave exactly the f32 embedding: nothing was quantized");
        using var la = f32.Logits(pixels);
        using var lb = q8.Logits(pixels);
        Assert.Equal(Argmax(la), Argmax(lb));
    }

    [Fact]
    public void Only_2d_float_linear_weights_whose_width_is_whole_blocks_are_quantized()
    {
        var c = new RandomCheckpoint(_dir, 12);
        c.Weight("encoder.q_proj.weight", 0.1f, 8, 64);
        c.Weight("encoder.odd.weight", 0.1f, 8, 36);                // 36 is not a whole number of blocks
        c.Weight("encoder.norm.weight", 0.1f, 64);                  // 1-D
        c.Weight("attn.in_proj_weight", 0.1f, 96, 32);              // nn.MultiheadAttention's packed projection
        c.Weight("embeddings.position_embedding.weight", 0.1f, 5, 64);
        c.Weight("text_model.embeddings.token_embedding.weight", 0.1f, 5, 64);
        c.Weight("proj.bias", 0.1f, 64, 64);                        // 2-D, but not a weight
        c.Write(new Dictionary<string, object>(), "none", 0);
        using var source = new QuantizingWeightSource(WeightFile.Open(Path.Combine(_dir, "model.safetensors")), DType.Q8_0);
        Assert.Equal(["attn.in_proj_weight", "encoder.q_proj.weight"], source.Names.Where(n => source.Info(n).DType == DType.Q8_0).Order().ToArray());
        using var wb = WeightBuilder.FromSources(_cpu, [new QuantizingWeightSource(WeightFile.Open(Path.Combine(_dir, "model.safetensors")), DType.Q8_0)]);
        using var q = wb.Get("encoder.q_proj.weight", 8, 64);
        Assert.Equal(DType.Q8_0, q.DType);
        using var odd = wb.Get("encoder.odd.weight", 8, 36);
        Assert.Equal(DType.F32, odd.DType);
        // The quantized bytes are ggml's reference Q8_0 of the stored values.
        var expected = new byte[DType.Q8_0.ByteCount(8 * 64)];
        Tessera.Quant.BlockQuant.Quantize(DType.Q8_0, c.Values("encoder.q_proj.weight"), expected);
        var actual = new byte[expected.Length];
        _cpu.CopyToHost(q.Storage, 0, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void The_quantize_flag_takes_block_types_and_names_the_choices_otherwise()
    {
        Assert.Null(VisionLoadOptions.FromQuantizeFlag(null).QuantizeLinears);
        Assert.Null(VisionLoadOptions.FromQuantizeFlag("none").QuantizeLinears);
        Assert.Equal(DType.Q8_0, VisionLoadOptions.FromQuantizeFlag("q8_0").QuantizeLinears);
        Assert.Equal(DType.Q4_0, VisionLoadOptions.FromQuantizeFlag("Q4_0").QuantizeLinears);
        foreach (var bad in new[] { "int8", "f16", "q8_k", "q9" })
            Assert.Contains("--quantize must be q8_0", Assert.Throws<TesseraException>(() => VisionLoadOptions.FromQuantizeFlag(bad)).Message);
    }

    [SkippableFact]
    public void The_real_mnist_vit_with_q8_0_linears_keeps_its_features_within_cosine_0_999()
    {
        string? path = MnistDdpmSamplingTests.SharedModel("vision", "vit-mnist", "mnist_vit.pth");
        Skip.If(path is null || !File.Exists(path), $"mnist_vit.pth is absent (../shared/models/vision/vit-mnist: {path})");
        var digits = MnistDdpmSamplingTests.RenderedDigits();
        Skip.If(digits is null, "ImageMagick's convert (with the DejaVu fonts) is not installed: apt-get install imagemagick fonts-dejavu-core");
        using var f32 = new MnistVit(_cpu, path!);
        using var wb = WeightBuilder.FromSources(_cpu, [new QuantizingWeightSource(WeightFile.Open(path!), DType.Q8_0)]);
        Assert.Equal(DType.Q8_0, wb.Info("encoder.0.attn.in_proj_weight").DType);
        Assert.Equal(DType.F32, wb.Info("patch_embed.proj.weight").DType);     // 49 inputs: not whole blocks
        using var q8 = new MnistVit(wb);
        using var pixels = Tensor.FromArray(_cpu, digits!, 10, 1, 28, 28);
        using var a = f32.Features(pixels);
        using var b = q8.Features(pixels);
        double cos = MinRowCosine(a, b);
        using var pa = f32.Probabilities(pixels);
        using var pb = q8.Probabilities(pixels);
        int same = Argmax(pa).Zip(Argmax(pb)).Count(p => p.First == p.Second);
        output.WriteLine($"MNIST ViT, q8_0 vs f32 on the 10 rendered digits: lowest feature cosine {cos:F6}, same class on {same} of 10");
        Assert.True(cos >= 0.999, $"q8_0 feature cosine {cos:F6} < 0.999");
        Assert.True(same >= 9, $"q8_0 changed the class of {10 - same} of 10 digits");
    }

    private static double MinRowCosine(Tensor x, Tensor y)
    {
        var a = x.ToFloatArray();
        var b = y.ToFloatArray();
        int d = x.Dim(-1);
        double worst = 1;
        for (int r = 0; r < a.Length / d; r++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int i = r * d; i < (r + 1) * d; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
            worst = Math.Min(worst, dot / Math.Sqrt(na * nb));
        }
        return worst;
    }

    private static int[] Argmax(Tensor t)
    {
        var v = t.ToFloatArray();
        int n = t.Dim(-1);
        return [.. Enumerable.Range(0, v.Length / n).Select(r => Enumerable.Range(0, n).MaxBy(i => v[r * n + i]))];
    }

    public void Dispose()
    {
        _cpu.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
