using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Models.Nn;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>CLIP's vision tower from llama.cpp's mmproj GGUF against the same random weights in Hugging Face's layout
/// (loaded by <see cref="Clip"/>, itself checked against the PyTorch reference in <see cref="VisionModelTests"/>): every
/// hidden state, the pooled output, CLIP's projection and LLaVA's projector agree within 1e-5, for the old converter's
/// swapped ffn names and f16 weights as for the new names in f32; a file whose metadata disagrees with its tensors, or
/// that lacks a tensor or a key, is refused naming them.</summary>
public sealed class MmprojTests : IDisposable
{
    private const double Bar = 1e-5;
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));
    private readonly string _root = Directory.CreateTempSubdirectory("tessera-mmproj-").FullName;
    private int _cases;

    private string Case(MmprojShape shape, Dictionary<string, GgufValue?>? overrides = null, params string[] skip) =>
        MmprojGguf.Write(Path.Combine(_root, $"case{_cases++}"), shape, seed: 11, overrides, skip);

    private Tensor Pixels(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var v = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 3 - 1.5);
        return Tensor.FromArray(_cpu, v, shape);
    }

    private static void Close(string what, Tensor actual, Tensor expected)
    {
        Assert.True(actual.Shape.Dims.ToArray().SequenceEqual(expected.Shape.Dims.ToArray()), $"{what}: shape {actual.Shape}, expected {expected.Shape}");
        var a = actual.ToFloatArray();
        var e = expected.ToFloatArray();
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - e[i]));
        Assert.True(worst < Bar, $"{what}: max |diff| {worst:E2}, limit {Bar:E0}");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Vision_only_file_gives_the_hidden_states_pooled_output_and_projection_of_the_hf_checkpoint(bool legacyNames, bool f16)
    {
        string gguf = Case(new MmprojShape(Llava: false, legacyNames, f16));
        using var hf = Clip.Load(_cpu, Path.GetDirectoryName(gguf)!);
        using var mm = Mmproj.Load(_cpu, gguf);
        Assert.Equal(legacyNames, mm.LegacyFfnNames);
        Assert.NotNull(mm.PostNorm);
        Assert.Null(mm.Projector);
        Assert.Equal(Activation.QuickGelu, mm.Config.Activation);

        using var px = Pixels(1, VisionCases.Batch, 3, VisionCases.Image, VisionCases.Image);
        using var a = hf.Vision.Forward(px, hiddenStates: true);
        using var b = mm.Forward(px, hiddenStates: true);
        Assert.Equal(MmprojGguf.Layers + 1, b.HiddenStates.Count);
        for (int i = 0; i < a.HiddenStates.Count; i++) Close($"hidden state {i}", b.HiddenStates[i], a.HiddenStates[i]);
        Close("last hidden state", b.LastHiddenState, a.LastHiddenState);
        Close("pooled", b.Pooled, a.Pooled);
        using var fa = hf.ImageFeatures(px);
        using var fb = mm.ImageFeatures(px);
        Close("image features", fb, fa);

        // Another resolution (a 7 x 6 grid): the positions are interpolated the same way.
        using var alt = Pixels(2, 1, 3, VisionCases.AltHeight, VisionCases.AltWidth);
        using var ha = hf.Vision.HiddenState(alt, -2, classToken: false);
        using var hb = mm.HiddenState(alt, -2, classToken: false);
        Close("penultimate patches at 42 x 36", hb, ha);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Llava_file_projects_the_layer_clip_cpp_picks_as_the_hf_projector_does(bool legacyNames, bool f16)
    {
        string gguf = Case(new MmprojShape(Llava: true, legacyNames, f16));
        string dir = Path.GetDirectoryName(gguf)!;
        using var hf = Clip.Load(_cpu, dir);
        using var mm = Mmproj.Load(_cpu, gguf);
        Assert.Equal(MmprojGguf.Layers - 1, mm.Encoder.Layers.Count); // the converter drops the last layer
        Assert.Null(mm.PostNorm);
        Assert.True(mm.Config.HasMlpProjector);

        using var px = Pixels(3, VisionCases.Batch, 3, VisionCases.Image, VisionCases.Image);
        using var penultimate = hf.Vision.HiddenState(px, -2, classToken: false);
        using var lastStored = mm.HiddenState(px, -1, classToken: false);
        Close("the last stored block (the model's penultimate layer)", lastStored, penultimate);
        // clip.cpp's build_llava runs all but the last stored block: hidden_states[block_count - 1] of the file.
        using var pa = hf.Vision.HiddenState(px, MmprojGguf.Layers - 2, classToken: false);
        using var features = mm.PatchFeatures(px);
        Close("projector input", features, pa);

        using var wb = WeightBuilder.Open(_cpu, Path.Combine(dir, "model.safetensors"));
        var projector = HfProjector(wb, VisionCases.VisionDim);
        using var ya = projector.Forward(pa);
        using var yb = mm.ProjectImage(px);
        Assert.Equal([VisionCases.Batch, VisionCases.Grid * VisionCases.Grid, MmprojShape.TextWidth], yb.Shape.Dims.ToArray());
        Close("projector output", yb, ya);
    }

    [Fact]
    public void Feature_layers_are_concatenated_along_the_width_before_the_projector()
    {
        string gguf = Case(new MmprojShape(Llava: true, LegacyFfnNames: false, F16: false, FeatureLayers: [1, 2]));
        string dir = Path.GetDirectoryName(gguf)!;
        using var hf = Clip.Load(_cpu, dir);
        using var mm = Mmproj.Load(_cpu, gguf);
        Assert.Equal([1, 2], mm.Config.FeatureLayers);

        using var px = Pixels(4, VisionCases.Batch, 3, VisionCases.Image, VisionCases.Image);
        using var l1 = hf.Vision.HiddenState(px, 1, classToken: false);
        using var l2 = hf.Vision.HiddenState(px, 2, classToken: false);
        using var stacked = Tensor.Concat(2, l1, l2);
        using var wb = WeightBuilder.Open(_cpu, Path.Combine(dir, "model.safetensors"));
        using var ya = HfProjector(wb, 2 * VisionCases.VisionDim).Forward(stacked);
        using var yb = mm.ProjectImage(px);
        Close("projector output over layers 1 and 2", yb, ya);
    }

    [Fact]
    public void A_llava_file_with_a_post_norm_applies_it_to_the_projector_input_as_clip_cpp_does()
    {
        string gguf = Case(new MmprojShape(Llava: true, LegacyFfnNames: false, F16: false) { KeepPostNorm = true });
        using var hf = Clip.Load(_cpu, Path.GetDirectoryName(gguf)!);
        using var mm = Mmproj.Load(_cpu, gguf);
        Assert.NotNull(mm.PostNorm);
        using var px = Pixels(6, VisionCases.Batch, 3, VisionCases.Image, VisionCases.Image);
        using var h = hf.Vision.HiddenState(px, MmprojGguf.Layers - 2, classToken: false);
        using var expected = hf.Vision.PostNorm.Forward(h);
        using var features = mm.PatchFeatures(px);
        Close("post-normed projector input", features, expected);
    }

    // LlavaForConditionalGeneration's multi_modal_projector: linear_1, GELU (projector_hidden_act "gelu"), linear_2.
    private static Mlp HfProjector(WeightBuilder wb, int inF) => new(
        Linear.Load(wb.Pp("multi_modal_projector.linear_1"), inF, MmprojShape.ProjectorHidden),
        Linear.Load(wb.Pp("multi_modal_projector.linear_2"), MmprojShape.ProjectorHidden, MmprojShape.TextWidth),
        Activation.Gelu);

    private void Refused(MmprojShape shape, Dictionary<string, GgufValue?>? overrides, string[] skip, params string[] named)
    {
        string gguf = Case(shape, overrides, skip);
        var e = Assert.ThrowsAny<TesseraException>(() => Mmproj.Load(_cpu, gguf).Dispose());
        foreach (var n in named) Assert.Contains(n, e.Message);
    }

    private static readonly MmprojShape VisionOnly = new(Llava: false, LegacyFfnNames: false, F16: false);
    private static readonly MmprojShape Llava = new(Llava: true, LegacyFfnNames: true, F16: true);

    [Fact]
    public void Embedding_length_that_disagrees_names_the_tensor_both_shapes_and_the_key() =>
        Refused(VisionOnly, new() { ["clip.vision.embedding_length"] = GgufValue.From(39u) }, [],
            "v.patch_embd.weight", "[36, 3, 6, 6]", "[39, 3, 6, 6]", "embedding_length 39");

    [Fact]
    public void Feed_forward_length_that_disagrees_names_the_ffn_tensor_and_the_key() =>
        Refused(VisionOnly, new() { ["clip.vision.feed_forward_length"] = GgufValue.From(50u) }, [],
            "v.blk.0.ffn_up.weight", "[44, 36]", "feed_forward_length 50");

    [Fact]
    public void Block_count_above_the_stored_blocks_names_the_missing_block_and_the_key() =>
        Refused(VisionOnly, new() { ["clip.vision.block_count"] = GgufValue.From(4u) }, [], "v.blk.3.ln1", "clip.vision.block_count");

    [Fact]
    public void Block_count_below_the_stored_blocks_names_the_extra_block_and_the_key() =>
        Refused(Llava, new() { ["clip.vision.block_count"] = GgufValue.From(1u) }, [], "v.blk.1.ln1", "clip.vision.block_count");

    [Fact]
    public void Projection_dim_that_disagrees_names_visual_projection() =>
        Refused(VisionOnly, new() { ["clip.vision.projection_dim"] = GgufValue.From(16u) }, [], "visual_projection.weight", "[17, 36]");

    [Fact]
    public void A_missing_tensor_is_named() =>
        Refused(Llava, null, ["v.blk.1.attn_k.weight"], "v.blk.1.attn_k.weight");

    [Fact]
    public void A_missing_projector_tensor_is_named() =>
        Refused(Llava, null, ["mm.2.weight"], "mm.2.weight");

    [Fact]
    public void A_missing_metadata_key_is_named() =>
        Refused(VisionOnly, new() { ["clip.vision.patch_size"] = null }, [], "clip.vision.patch_size");

    [Fact]
    public void An_unsupported_projector_is_named() =>
        Refused(Llava, new() { ["clip.projector_type"] = GgufValue.From("ldp") }, [], "clip.projector_type", "ldp");

    [Fact]
    public void A_feature_layer_past_the_blocks_is_named() =>
        Refused(Llava, new() { ["clip.vision.feature_layer"] = GgufValue.Array(new[] { 5 }) }, [], "clip.vision.feature_layer 5", "block_count 2");

    [Fact]
    public void Pixels_that_are_not_a_patch_multiple_are_refused_naming_the_shape()
    {
        using var mm = Mmproj.Load(_cpu, Case(VisionOnly));
        using var px = Pixels(5, 1, 3, 31, 30);
        var e = Assert.ThrowsAny<TesseraException>(() => mm.HiddenState(px, -1).Dispose());
        Assert.Contains("[1, 3, 31, 30]", e.Message);
    }

    public void Dispose()
    {
        _cpu.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
