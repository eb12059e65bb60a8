using System.Text.Json.Nodes;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>A checkpoint whose config.json disagrees with its tensors is refused with an error that names both: the
/// tensor with its stored and expected shapes, and the config values the expectation came from.</summary>
public sealed class VisionConfigMismatchTests(VisionReference r) : IClassFixture<VisionReference>
{
    // A copy of a case's checkpoint with one config key changed (path like "vision_config.hidden_size").
    private string Altered(string name, string path, int value)
    {
        string dir = Path.Combine(r.Root, $"{name}-{path}-{value}");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(r.Dir(name), "model.safetensors"), Path.Combine(dir, "model.safetensors"), overwrite: true);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(r.Dir(name), "config.json")))!;
        var keys = path.Split('.');
        var node = config;
        foreach (var k in keys[..^1]) node = node[k]!;
        node[keys[^1]] = value;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }

    private static void Refused(Action load, params string[] named)
    {
        var e = Assert.ThrowsAny<TesseraException>(load);
        foreach (var n in named) Assert.Contains(n, e.Message);
    }

    [Fact]
    public void Vit_hidden_size_that_disagrees_names_the_tensor_and_the_key() =>
        Refused(() => Vit.Load(r.Cpu, Altered("vit", "hidden_size", 48)),
            "vit.embeddings.patch_embeddings.projection.weight", "hidden_size 48", "[36, 3, 6, 6]", "[48, 3, 6, 6]");

    [Fact]
    public void Vit_intermediate_size_that_disagrees_names_the_tensor_and_the_key() =>
        Refused(() => Vit.Load(r.Cpu, Altered("vit", "intermediate_size", 40)),
            "vit.encoder.layer.0.intermediate.dense.weight", "intermediate_size 40");

    [Fact]
    public void Vit_layer_count_that_disagrees_names_the_layer_and_the_key()
    {
        Refused(() => Vit.Load(r.Cpu, Altered("vit", "num_hidden_layers", 2)), "vit.encoder.layer.2", "num_hidden_layers", "2 layers");
        Refused(() => Vit.Load(r.Cpu, Altered("vit", "num_hidden_layers", 4)), "vit.encoder.layer.3", "num_hidden_layers", "4 layers");
    }

    [Fact]
    public void Clip_image_size_that_disagrees_names_the_position_table_and_the_key() =>
        Refused(() => Clip.Load(r.Cpu, Altered("clip", "vision_config.image_size", 36)),
            "position", "image_size 36", "[26, 36]", "[37, 36]");

    [Fact]
    public void Clip_projection_dim_that_disagrees_names_the_projection_and_the_key() =>
        Refused(() => Clip.Load(r.Cpu, Altered("clip", "projection_dim", 16)), "visual_projection.weight", "projection_dim 16");

    [Fact]
    public void Clip_vocab_size_that_disagrees_names_the_token_table_and_the_key() =>
        Refused(() => Clip.Load(r.Cpu, Altered("clip", "text_config.vocab_size", 100)), "text_model.embeddings.token_embedding.weight", "vocab_size 100");

    [Fact]
    public void Siglip_hidden_size_that_disagrees_names_the_tensor_and_the_key() =>
        Refused(() => Siglip.Load(r.Cpu, Altered("siglip", "vision_config.intermediate_size", 45)), "vision_model.encoder.layers.0.mlp.fc1.weight", "intermediate_size 45");

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_named()
    {
        using var clip = Clip.Load(r.Cpu, r.Dir("clip"));
        using var ids = Tensor.FromArray(r.Cpu, new[] { 5, 120, 98 }, 1, 3);
        Refused(() => clip.TextEmbeddings(ids).Dispose(), "token id 120", "position 1", "vocabulary of 99");
        using var tooLong = Tensor.FromArray(r.Cpu, new int[14], 1, 14);
        Refused(() => clip.TextEmbeddings(tooLong).Dispose(), "14 tokens", "13");
    }

    [Fact]
    public void A_hidden_state_index_past_the_layers_is_refused()
    {
        using var vit = Vit.Load(r.Cpu, r.Dir("vit"));
        using var pixels = r.Input("vit", "pixel_values");
        Refused(() => vit.HiddenState(pixels, 4).Dispose(), "hidden state 4", "3 layers");
        Refused(() => vit.HiddenState(pixels, -5).Dispose(), "hidden state -5");
        using (var h = vit.HiddenState(pixels, 0)) Assert.Equal(new Shape(2, 26, 36), h.Shape);
    }
}
