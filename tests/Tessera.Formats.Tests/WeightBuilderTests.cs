using Tessera.Cpu;
using Tessera.Formats.Onnx;
using static Tessera.Formats.Tests.WeightBuilderFixtures;

namespace Tessera.Formats.Tests;

/// <summary>The builder's naming: prefixes, shape-checked Get, GetOptional, missing tensors, several sources.</summary>
public class WeightBuilderTests
{
    private static readonly IBackend Cpu = CpuBackend.Default;

    [Fact]
    public void PpPrefixesJoinWithDotsAndNumbers()
    {
        using var dir = new TempDir();
        string path = WriteSafetensors(dir, "m.safetensors", F32("vision_model.encoder.layers.3.fc1.weight", 7, 3), F32("vision_model.post_layernorm.bias", 17));
        using var wb = WeightBuilder.Open(Cpu, path);
        var enc = wb.Pp("vision_model").Pp("encoder");
        Assert.Equal("vision_model.encoder", enc.Prefix);
        var layer = enc.Pp("layers").Pp(3);
        Assert.Equal("vision_model.encoder.layers.3.fc1.weight", layer.FullName("fc1.weight"));
        var w = layer.Get("fc1.weight", 7, 3);
        Assert.Equal(Values("vision_model.encoder.layers.3.fc1.weight", 21), w.ToArray<float>());
        Assert.Equal(Values("vision_model.post_layernorm.bias", 17), wb.Pp("vision_model.post_layernorm").Get("bias", 17).ToArray<float>());
        Assert.True(layer.Contains("fc1.weight"));
        Assert.False(layer.Contains("fc2.weight"));
        Assert.Equal(2, wb.Weights.Count); // every Pp shares the root's set
        Assert.Equal(new long[] { 7, 3 }, layer.Info("fc1.weight").Dims);
    }

    [Fact]
    public void GetChecksTheShapeAndNamesTensorFileAndBothShapes()
    {
        using var dir = new TempDir();
        string path = WriteSafetensors(dir, "m.safetensors", F32("blocks.1.attn.qkv.weight", 33, 17));
        using var wb = WeightBuilder.Open(Cpu, path);
        var attn = wb.Pp("blocks.1.attn");
        var e = Assert.Throws<WeightFormatException>(() => attn.Get("qkv.weight", 17, 33));
        Assert.Equal("blocks.1.attn.qkv.weight", e.Tensor);
        Assert.Equal(path, e.File);
        Assert.Contains(path, e.Message);
        Assert.Contains("'blocks.1.attn.qkv.weight'", e.Message);
        Assert.Contains("f32 [33, 17]", e.Message);
        Assert.Contains("expected [17, 33]", e.Message);
        var rank = Assert.Throws<WeightFormatException>(() => attn.Get("qkv.weight", 33 * 17));
        Assert.Contains("expected [561]", rank.Message);
        Assert.Contains("expected [*, 3]", Assert.Throws<WeightFormatException>(() => attn.Get("qkv.weight", -1, 3)).Message);
        Assert.Equal(0, wb.Weights.Count); // a refused tensor is not kept
        using var any = attn.Get("qkv.weight", -1, 17).Share(); // -1 accepts any size on that axis
        Assert.Equal(new Shape(33, 17), any.Shape);
        Assert.Equal(new Shape(33, 17), attn.Get("qkv.weight").Shape); // no shape: no check
    }

    [Fact]
    public void GetOptionalIsNullWhenAbsentAndStillChecksAPresentTensorsShape()
    {
        using var dir = new TempDir();
        using var wb = WeightBuilder.Open(Cpu, WriteSafetensors(dir, "m.safetensors", F32("fc.bias", 7)));
        Assert.Null(wb.GetOptional("fc.weight", 7, 3));
        Assert.Null(wb.GetOptionalAs("fc.weight", DType.BF16, 7, 3));
        Assert.Equal(Values("fc.bias", 7), wb.GetOptional("fc.bias", 7)!.ToArray<float>());
        Assert.Throws<WeightFormatException>(() => wb.GetOptional("fc.bias", 3));
        Assert.Equal(DType.BF16, wb.GetOptionalAs("fc.bias", DType.BF16, 7)!.DType);
    }

    [Fact]
    public void AMissingTensorNamesTheTensorTheFileAndNearNames()
    {
        using var dir = new TempDir();
        string path = WriteSafetensors(dir, "m.safetensors",
            F32("text_model.encoder.layers.0.self_attn.q_proj.weight", 3, 3), F32("text_model.encoder.layers.0.self_attn.k_proj.weight", 3, 3),
            F32("text_model.final_layer_norm.weight", 3));
        using var wb = WeightBuilder.Open(Cpu, path);

        // Misspelt: the nearest names by edit distance.
        var e = Assert.Throws<WeightFormatException>(() => wb.Get("text_model.encoder.layers.0.self_attn.q_prj.weight", 3, 3));
        Assert.Equal("text_model.encoder.layers.0.self_attn.q_proj.weight".Replace("q_proj", "q_prj"), e.Tensor);
        Assert.Contains(path, e.Message);
        Assert.Contains("no such tensor", e.Message);
        Assert.Contains("stored names like it: 'text_model.encoder.layers.0.self_attn.q_proj.weight'", e.Message);

        // A prefix off by one level: the stored name that ends with it.
        e = Assert.Throws<WeightFormatException>(() => wb.Pp("encoder.layers.0").Get("self_attn.k_proj.weight"));
        Assert.Contains("'text_model.encoder.layers.0.self_attn.k_proj.weight'", e.Message);
        // The renames tried are listed.
        Assert.Contains("also tried 'module.encoder.layers.0.self_attn.k_proj.weight'", e.Message);

        // Nothing near: no suggestion, still the file.
        e = Assert.Throws<WeightFormatException>(() => wb.Get("vision_projection.weight"));
        Assert.DoesNotContain("like it", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Throws<WeightFormatException>(() => wb.Info("vision_projection.weight"));
        Assert.Throws<WeightFormatException>(() => wb.GetHost("vision_projection.weight"));
    }

    [Fact]
    public void SourcesAreSearchedInOrder()
    {
        using var dir = new TempDir();
        string first = WriteSafetensors(dir, "a.safetensors", F32("shared", 3), F32("only_a", 1));
        string second = WriteSafetensors(dir, "b.safetensors", WeightTensor.FromValues("shared", [3], new[] { 9f, 9f, 9f }), F32("only_b", 5));
        using var wb = WeightBuilder.Open(Cpu, first, second);
        Assert.Equal(2, wb.Sources.Count);
        Assert.Equal(Values("shared", 3), wb.Get("shared", 3).ToArray<float>()); // the first source wins
        Assert.Equal(Values("only_b", 5), wb.Get("only_b", 5).ToArray<float>());
        Assert.Equal(second, wb.Info("only_b").File);
        var e = Assert.Throws<WeightFormatException>(() => wb.Get("neither"));
        Assert.Contains($"{first} or {second}", e.Message);
        // A wrong shape names the file that holds the tensor.
        Assert.Equal(second, Assert.Throws<WeightFormatException>(() => wb.Get("only_b", 4)).File);
    }

    [Fact]
    public void ShardedSafetensorsAreOneSourceAndShapeErrorsNameTheShard()
    {
        using var dir = new TempDir();
        var tensors = new[] { F32("a", 17, 3), F32("b", 65), F32("c", 7, 7) };
        string index = Tessera.Formats.Safetensors.SafetensorsWriter.WriteSharded(dir.Path, tensors, maxShardBytes: 300);
        using var wb = WeightBuilder.Open(Cpu, dir.Path); // the directory finds the index
        Assert.Single(wb.Sources);
        foreach (var t in tensors) Assert.Equal(Values(t.Name, (int)t.Dims.Aggregate(1L, (a, d) => a * d)), wb.Get(t.Name, t.Dims.Select(d => (int)d).ToArray()).ToArray<float>());
        var e = Assert.Throws<WeightFormatException>(() => wb.Get("c", 7, 8));
        Assert.EndsWith(".safetensors", e.File);
        Assert.NotEqual(index, e.File);
    }

    [Fact]
    public void GetHostAndGetScalarReadValuesWithoutKeepingThem()
    {
        using var dir = new TempDir();
        using var wb = WeightBuilder.Open(Cpu, WriteSafetensors(dir, "m.safetensors", BF16("bn.running_var", 17), WeightTensor.FromValues("logit_scale", [], new[] { 2.6592f })));
        var host = wb.GetHost("bn.running_var", 17);
        Assert.Equal(Values("bn.running_var", 17).Select(v => (float)BFloat16.FromSingle(v)), host);
        Assert.Equal(2.6592f, wb.GetScalar("logit_scale"));
        Assert.Equal(0, wb.Weights.Count);
        Assert.Contains("should hold one value", Assert.Throws<WeightFormatException>(() => wb.GetScalar("bn.running_var")).Message);
    }

    [Fact]
    public void UploadFlushesSubnormalsWithoutTouchingTheCallersArray()
    {
        using var dir = new TempDir();
        using var wb = WeightBuilder.Open(Cpu, WriteSafetensors(dir, "m.safetensors", F32("x", 1)));
        var values = new[] { 1f, float.Epsilon, -3f };
        var t = wb.Upload(values, 3);
        Assert.Equal(new[] { 1f, 0f, -3f }, t.ToArray<float>());
        Assert.Equal(float.Epsilon, values[1]);
        Assert.True(t.Storage.IsConstant);
        Assert.Equal(1, wb.Weights.Count);
    }

    [Fact]
    public void OnnxInitializersAndConstantNodesLoadByName()
    {
        using var dir = new TempDir();
        string path = dir.File("m.onnx");
        File.WriteAllBytes(path, OnnxBuilder.Model(
            [OnnxBuilder.FloatTensor("conv.weight", [2, 3], [1, 2, 3, 4, 5, 6])],
            [("p2o.Constant.7", OnnxBuilder.FloatTensor("", [3], [0.5f, -1.5f, 2f]))]));
        using var wb = WeightBuilder.Open(Cpu, path);
        Assert.IsType<OnnxFile>(wb.Sources[0]);
        Assert.Equal(new[] { 1f, 2, 3, 4, 5, 6 }, wb.Get("conv.weight", 2, 3).ToArray<float>());
        Assert.Equal(new[] { 0.5f, -1.5f, 2f }, wb.Get("p2o.Constant.7", 3).ToArray<float>());
        Assert.Contains("expected [2]", Assert.Throws<WeightFormatException>(() => wb.Get("p2o.Constant.7", 2)).Message);
    }
}
