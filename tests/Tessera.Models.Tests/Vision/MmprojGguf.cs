using Tessera.Formats;
using Tessera.Formats.Gguf;

namespace Tessera.Models.Tests.Vision;

/// <summary>How a test mmproj file is written, as llama.cpp's two converters do it.</summary>
/// <param name="Llava">LLaVA's file (the old convert_image_encoder_to_gguf.py --llava-projector): the model's last layer,
/// post_layernorm and visual_projection dropped, mm.0/mm.2 added, clip.has_llava_projector and projector_type "mlp".
/// Otherwise a vision-only CLIP file (--vision-only): every layer, v.post_ln and visual_projection.weight.</param>
/// <param name="LegacyFfnNames">fc1 written as ffn_down and fc2 as ffn_up (the old converter's names).</param>
/// <param name="F16">2-D weights and the patch conv in f16, norms, biases and the class token in f32 (the converter's
/// default file type); the Hugging Face checkpoint holds the same f16-rounded values in f32.</param>
/// <param name="FeatureLayers">clip.vision.feature_layer, or null to leave the key out.</param>
public sealed record MmprojShape(bool Llava, bool LegacyFfnNames, bool F16, int[]? FeatureLayers = null)
{
    /// <summary>A LLaVA file that keeps v.post_ln (which clip.cpp then applies to the projector's input).</summary>
    public bool KeepPostNorm { get; init; }

    /// <summary>The LLaVA projector's hidden and output (language model) widths.</summary>
    public const int ProjectorHidden = 40, TextWidth = 24;
}

/// <summary>Writes a random CLIP checkpoint in Hugging Face's layout (<see cref="VisionCases.Clip"/>, 3 vision layers)
/// and the same weights as an mmproj GGUF under llama.cpp's names and metadata (tools/mtmd/clip-impl.h). For LLaVA files
/// the Hugging Face side also gets the projector as LlavaForConditionalGeneration names it
/// (<c>multi_modal_projector.linear_1/linear_2</c>).</summary>
public static class MmprojGguf
{
    public const int Layers = 3, Projection = 17;

    /// <summary>Writes both into <paramref name="dir"/> (model.safetensors + config.json, and mmproj.gguf); the metadata
    /// overrides (null: leave the key out) let a test make the file disagree with its tensors; <paramref name="skip"/> leaves GGUF tensors out.</summary>
    public static string Write(string dir, MmprojShape shape, int seed, Dictionary<string, GgufValue?>? overrides = null, params string[] skip)
    {
        var c = new RandomCheckpoint(dir, seed);
        var config = VisionCases.Clip(c, eos: 2, visionLayers: Layers);
        int d = VisionCases.VisionDim, f = VisionCases.VisionMlp;
        if (shape.Llava)
        {
            int inF = d * Math.Max(1, shape.FeatureLayers?.Length ?? 0);
            c.Linear("multi_modal_projector.linear_1", inF, MmprojShape.ProjectorHidden);
            c.Linear("multi_modal_projector.linear_2", MmprojShape.ProjectorHidden, MmprojShape.TextWidth);
        }
        var tensors = TensorMap(shape, d, f);
        foreach (var (hf, _, dims, half) in tensors)
        {
            if (!half) continue;
            var rounded = c.Values(hf).Select(x => (float)(Half)x).ToArray(); // the same f16 values on both sides
            c.Remove(hf);
            c.Weight(hf, rounded, dims);
        }
        c.Write(config, "clip", -2);

        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.From("clip"))
            .Add("clip.has_text_encoder", GgufValue.From(false))
            .Add("clip.has_vision_encoder", GgufValue.From(true))
            .Add("clip.has_llava_projector", GgufValue.From(shape.Llava))
            .Add("general.file_type", GgufValue.From(shape.F16 ? 1u : 0u))
            .Add("general.name", GgufValue.From("random-clip"));
        var meta = new Dictionary<string, GgufValue?>
        {
            ["clip.vision.image_size"] = GgufValue.From((uint)VisionCases.Image),
            ["clip.vision.patch_size"] = GgufValue.From((uint)VisionCases.Patch),
            ["clip.vision.embedding_length"] = GgufValue.From((uint)d),
            ["clip.vision.feed_forward_length"] = GgufValue.From((uint)f),
            ["clip.vision.projection_dim"] = GgufValue.From((uint)Projection),
            ["clip.vision.attention.head_count"] = GgufValue.From((uint)VisionCases.VisionHeads),
            ["clip.vision.attention.layer_norm_epsilon"] = GgufValue.From(1e-5f),
            ["clip.vision.block_count"] = GgufValue.From((uint)(shape.Llava ? Layers - 1 : Layers)),
            ["clip.vision.image_mean"] = GgufValue.Array(new[] { 0.48145466f, 0.4578275f, 0.40821073f }),
            ["clip.vision.image_std"] = GgufValue.Array(new[] { 0.26862954f, 0.26130258f, 0.27577711f }),
            ["clip.use_gelu"] = GgufValue.From(false), // the case's hidden_act is quick_gelu
        };
        if (shape.Llava) meta["clip.projector_type"] = GgufValue.From("mlp");
        if (shape.FeatureLayers is { } fl) meta["clip.vision.feature_layer"] = GgufValue.Array(fl);
        foreach (var (k, v) in overrides ?? []) meta[k] = v;
        foreach (var (k, v) in meta)
            if (v is not null) w.Add(k, v);
        foreach (var (hf, gguf, dims, half) in tensors)
        {
            if (skip.Contains(gguf)) continue;
            var values = c.Values(hf);
            long[] ld = dims.Select(x => (long)x).ToArray();
            w.AddTensor(half ? WeightTensor.FromValues(gguf, ld, values.Select(x => (Half)x).ToArray()) : WeightTensor.FromValues(gguf, ld, values));
        }
        string path = Path.Combine(c.Dir, "mmproj.gguf");
        w.Write(path);
        return path;
    }

    // (Hugging Face name, llama.cpp name, shape, stored in f16) for every tensor the mmproj file holds.
    private static List<(string Hf, string Gguf, int[] Dims, bool Half)> TensorMap(MmprojShape s, int d, int f)
    {
        var list = new List<(string, string, int[], bool)>();
        void Add(string hf, string gguf, params int[] dims) => list.Add((hf, gguf, dims, s.F16 && dims.Length is 2 or 4));
        void Norm(string hf, string gguf) { Add(hf + ".weight", gguf + ".weight", d); Add(hf + ".bias", gguf + ".bias", d); }
        void Linear(string hf, string gguf, int inF, int outF) { Add(hf + ".weight", gguf + ".weight", outF, inF); Add(hf + ".bias", gguf + ".bias", outF); }
        const string v = "vision_model";
        Add($"{v}.embeddings.patch_embedding.weight", "v.patch_embd.weight", d, VisionCases.Channels, VisionCases.Patch, VisionCases.Patch);
        Add($"{v}.embeddings.class_embedding", "v.class_embd", d);
        Add($"{v}.embeddings.position_embedding.weight", "v.position_embd.weight", VisionCases.Grid * VisionCases.Grid + 1, d);
        Norm($"{v}.pre_layrnorm", "v.pre_ln");
        for (int i = 0; i < (s.Llava ? Layers - 1 : Layers); i++)
        {
            string hf = $"{v}.encoder.layers.{i}", g = $"v.blk.{i}";
            Norm($"{hf}.layer_norm1", $"{g}.ln1");
            foreach (var (p, q) in new[] { ("q_proj", "attn_q"), ("k_proj", "attn_k"), ("v_proj", "attn_v"), ("out_proj", "attn_out") })
                Linear($"{hf}.self_attn.{p}", $"{g}.{q}", d, d);
            Norm($"{hf}.layer_norm2", $"{g}.ln2");
            Linear($"{hf}.mlp.fc1", $"{g}.{(s.LegacyFfnNames ? "ffn_down" : "ffn_up")}", d, f);
            Linear($"{hf}.mlp.fc2", $"{g}.{(s.LegacyFfnNames ? "ffn_up" : "ffn_down")}", f, d);
        }
        if (s.Llava)
        {
            int inF = d * Math.Max(1, s.FeatureLayers?.Length ?? 0);
            Linear("multi_modal_projector.linear_1", "mm.0", inF, MmprojShape.ProjectorHidden);
            Linear("multi_modal_projector.linear_2", "mm.2", MmprojShape.ProjectorHidden, MmprojShape.TextWidth);
            if (s.KeepPostNorm) Norm($"{v}.post_layernorm", "v.post_ln");
        }
        else
        {
            Norm($"{v}.post_layernorm", "v.post_ln");
            Add("visual_projection.weight", "visual_projection.weight", Projection, d);
        }
        return list;
    }
}
