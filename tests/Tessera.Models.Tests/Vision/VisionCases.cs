namespace Tessera.Models.Tests.Vision;

/// <summary>The random checkpoints of the vision tests, at small odd sizes, in the published layouts of ViT
/// (ViTForImageClassification), CLIP (CLIPModel) and SigLIP (SiglipModel).</summary>
public static class VisionCases
{
    public const int Channels = 3, Image = 30, Patch = 6, Grid = Image / Patch, Batch = 2;
    public const int AltHeight = 42, AltWidth = 36;                       // a 7 x 6 grid: positions interpolated

    // vision tower: width 36 in 3 heads of 12, MLP 44; text tower: width 28 in 4 heads of 7, MLP 38
    public const int VisionDim = 36, VisionHeads = 3, VisionMlp = 44, TextDim = 28, TextHeads = 4, TextMlp = 38, Vocab = 99;

    private static void Pixels(RandomCheckpoint c)
    {
        c.Input("pixel_values", 1.5f, Batch, Channels, Image, Image);
        c.Input("pixel_values_alt", 1.5f, 1, Channels, AltHeight, AltWidth);
    }

    /// <summary>ViTForImageClassification: 3 layers, 7 labels; width, heads and MLP width as given (36, 3, 44 by default).</summary>
    public static Dictionary<string, object> Vit(RandomCheckpoint c, int layers = 3, int labels = 7, int dim = VisionDim, int heads = VisionHeads, int mlp = VisionMlp)
    {
        int d = dim, n = Grid * Grid + 1;
        c.Weight("vit.embeddings.cls_token", 0.5f, 1, 1, d);
        c.Weight("vit.embeddings.position_embeddings", 0.5f, 1, n, d);
        c.Weight("vit.embeddings.patch_embeddings.projection.weight", 0.1f, d, Channels, Patch, Patch);
        c.Weight("vit.embeddings.patch_embeddings.projection.bias", 0.05f, d);
        for (int i = 0; i < layers; i++)
        {
            string p = $"vit.encoder.layer.{i}";
            foreach (var q in new[] { "query", "key", "value" }) c.Linear($"{p}.attention.attention.{q}", d, d);
            c.Linear($"{p}.attention.output.dense", d, d);
            c.Linear($"{p}.intermediate.dense", d, mlp);
            c.Linear($"{p}.output.dense", mlp, d);
            c.Norm($"{p}.layernorm_before", d);
            c.Norm($"{p}.layernorm_after", d);
        }
        c.Norm("vit.layernorm", d);
        c.Linear("classifier", d, labels);
        Pixels(c);
        return new()
        {
            ["architectures"] = new[] { "ViTForImageClassification" }, ["model_type"] = "vit",
            ["hidden_size"] = d, ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["intermediate_size"] = mlp,
            ["hidden_act"] = "gelu", ["layer_norm_eps"] = 1e-12, ["image_size"] = Image, ["patch_size"] = Patch, ["num_channels"] = Channels,
            ["qkv_bias"] = true,
            ["id2label"] = Enumerable.Range(0, labels).ToDictionary(i => i.ToString(), i => $"class {i}"),
            ["label2id"] = Enumerable.Range(0, labels).ToDictionary(i => $"class {i}", i => i),
        };
    }

    /// <summary>DeiTForImageClassificationWithTeacher (names under <c>deit.</c>): class and distillation tokens, 2 layers,
    /// 5 labels, the two heads.</summary>
    public static Dictionary<string, object> Deit(RandomCheckpoint c, int layers = 2, int labels = 5)
    {
        int d = VisionDim, n = Grid * Grid + 2;
        c.Weight("deit.embeddings.cls_token", 0.5f, 1, 1, d);
        c.Weight("deit.embeddings.distillation_token", 0.5f, 1, 1, d);
        c.Weight("deit.embeddings.position_embeddings", 0.5f, 1, n, d);
        c.Weight("deit.embeddings.patch_embeddings.projection.weight", 0.1f, d, Channels, Patch, Patch);
        c.Weight("deit.embeddings.patch_embeddings.projection.bias", 0.05f, d);
        for (int i = 0; i < layers; i++)
        {
            string p = $"deit.encoder.layer.{i}";
            foreach (var q in new[] { "query", "key", "value" }) c.Linear($"{p}.attention.attention.{q}", d, d);
            c.Linear($"{p}.attention.output.dense", d, d);
            c.Linear($"{p}.intermediate.dense", d, VisionMlp);
            c.Linear($"{p}.output.dense", VisionMlp, d);
            c.Norm($"{p}.layernorm_before", d);
            c.Norm($"{p}.layernorm_after", d);
        }
        c.Norm("deit.layernorm", d);
        c.Linear("cls_classifier", d, labels);
        c.Linear("distillation_classifier", d, labels);
        Pixels(c);
        return new()
        {
            ["architectures"] = new[] { "DeiTForImageClassificationWithTeacher" }, ["model_type"] = "deit",
            ["hidden_size"] = d, ["num_hidden_layers"] = layers, ["num_attention_heads"] = VisionHeads, ["intermediate_size"] = VisionMlp,
            ["hidden_act"] = "gelu", ["layer_norm_eps"] = 1e-12, ["image_size"] = Image, ["patch_size"] = Patch, ["num_channels"] = Channels,
            ["qkv_bias"] = true, ["encoder_stride"] = 16,
            ["id2label"] = Enumerable.Range(0, labels).ToDictionary(i => i.ToString(), i => $"deit class {i}"),
            ["label2id"] = Enumerable.Range(0, labels).ToDictionary(i => $"deit class {i}", i => i),
        };
    }

    private static void Text(RandomCheckpoint c, int maxPositions, int layers, int vocab = Vocab)
    {
        c.Weight("text_model.embeddings.token_embedding.weight", 0.5f, vocab, TextDim);
        c.Weight("text_model.embeddings.position_embedding.weight", 0.5f, maxPositions, TextDim);
        for (int i = 0; i < layers; i++) c.ClipLayer($"text_model.encoder.layers.{i}", TextDim, TextMlp);
        c.Norm("text_model.final_layer_norm", TextDim);
    }

    /// <summary>CLIPModel: vision 3 layers, text 2 layers of up to 13 tokens, projection 17; <paramref name="eos"/> 2
    /// is the legacy rule (the highest id ends the text), another id the first occurrence of it.</summary>
    public static Dictionary<string, object> Clip(RandomCheckpoint c, int eos, int visionLayers = 3, int vocab = Vocab)
    {
        const int projection = 17, maxPositions = 13, s = 9;
        int d = VisionDim;
        c.Weight("vision_model.embeddings.class_embedding", 0.5f, d);
        c.Weight("vision_model.embeddings.patch_embedding.weight", 0.1f, d, Channels, Patch, Patch);
        c.Weight("vision_model.embeddings.position_embedding.weight", 0.5f, Grid * Grid + 1, d);
        c.Norm("vision_model.pre_layrnorm", d);
        for (int i = 0; i < visionLayers; i++) c.ClipLayer($"vision_model.encoder.layers.{i}", d, VisionMlp);
        c.Norm("vision_model.post_layernorm", d);
        Text(c, maxPositions, 2, vocab);
        c.Weight("visual_projection.weight", 0.2f, projection, d);
        c.Weight("text_projection.weight", 0.2f, projection, TextDim);
        c.Weight("logit_scale", [2.3f]);
        Pixels(c);
        // three texts, each ending at a different position; the rest is padding of the highest id (as CLIP pads with
        // its end-of-text token, the highest id) so that the two end-of-text rules give different answers if confused
        int end = eos == 2 ? Vocab - 1 : Vocab - 2;
        var ids = new int[3 * s];
        var rng = new Random(eos);
        for (int r = 0; r < 3; r++)
            for (int j = 0; j < s; j++)
                ids[r * s + j] = j < 3 + 2 * r ? rng.Next(3, Vocab - 2) : j == 3 + 2 * r ? end : Vocab - 1;
        c.Ids("input_ids", ids, 3, s);
        return new()
        {
            ["architectures"] = new[] { "CLIPModel" }, ["model_type"] = "clip", ["projection_dim"] = projection,
            ["logit_scale_init_value"] = 2.6592,
            ["text_config"] = new Dictionary<string, object>
            {
                ["vocab_size"] = vocab, ["hidden_size"] = TextDim, ["intermediate_size"] = TextMlp, ["num_hidden_layers"] = 2,
                ["num_attention_heads"] = TextHeads, ["max_position_embeddings"] = maxPositions, ["hidden_act"] = "quick_gelu",
                ["layer_norm_eps"] = 1e-5, ["bos_token_id"] = 0, ["eos_token_id"] = eos, ["pad_token_id"] = 1,
            },
            ["vision_config"] = new Dictionary<string, object>
            {
                ["hidden_size"] = d, ["intermediate_size"] = VisionMlp, ["num_hidden_layers"] = visionLayers, ["num_attention_heads"] = VisionHeads,
                ["image_size"] = Image, ["patch_size"] = Patch, ["num_channels"] = Channels, ["hidden_act"] = "quick_gelu", ["layer_norm_eps"] = 1e-5,
            },
        };
    }

    /// <summary>SiglipModel: vision 2 layers with the pooling head, text 2 layers (9 of up to 11 positions) with a head
    /// projecting 28 to the vision width 36.</summary>
    public static Dictionary<string, object> Siglip(RandomCheckpoint c)
    {
        const int maxPositions = 11, s = 9;
        int d = VisionDim;
        c.Weight("vision_model.embeddings.patch_embedding.weight", 0.1f, d, Channels, Patch, Patch);
        c.Weight("vision_model.embeddings.patch_embedding.bias", 0.05f, d);
        c.Weight("vision_model.embeddings.position_embedding.weight", 0.5f, Grid * Grid, d);
        for (int i = 0; i < 2; i++) c.ClipLayer($"vision_model.encoder.layers.{i}", d, VisionMlp);
        c.Norm("vision_model.post_layernorm", d);
        c.Weight("vision_model.head.probe", 0.5f, 1, 1, d);
        c.Weight("vision_model.head.attention.in_proj_weight", 0.2f, 3 * d, d);
        c.Weight("vision_model.head.attention.in_proj_bias", 0.05f, 3 * d);
        c.Linear("vision_model.head.attention.out_proj", d, d);
        c.Norm("vision_model.head.layernorm", d);
        c.Linear("vision_model.head.mlp.fc1", d, VisionMlp);
        c.Linear("vision_model.head.mlp.fc2", VisionMlp, d);
        Text(c, maxPositions, 2);
        c.Linear("text_model.head", TextDim, d);
        c.Weight("logit_scale", [2.0f], 1);
        c.Weight("logit_bias", [-3.0f], 1);
        Pixels(c);
        var rng = new Random(5);
        c.Ids("input_ids", Enumerable.Range(0, 3 * s).Select(_ => rng.Next(0, Vocab)).ToArray(), 3, s);
        return new()
        {
            ["architectures"] = new[] { "SiglipModel" }, ["model_type"] = "siglip",
            ["text_config"] = new Dictionary<string, object>
            {
                ["vocab_size"] = Vocab, ["hidden_size"] = TextDim, ["intermediate_size"] = TextMlp, ["num_hidden_layers"] = 2,
                ["num_attention_heads"] = TextHeads, ["max_position_embeddings"] = maxPositions, ["hidden_act"] = "gelu_pytorch_tanh",
                ["layer_norm_eps"] = 1e-6, ["projection_size"] = d,
            },
            ["vision_config"] = new Dictionary<string, object>
            {
                ["hidden_size"] = d, ["intermediate_size"] = VisionMlp, ["num_hidden_layers"] = 2, ["num_attention_heads"] = VisionHeads,
                ["image_size"] = Image, ["patch_size"] = Patch, ["num_channels"] = Channels, ["hidden_act"] = "gelu_pytorch_tanh", ["layer_norm_eps"] = 1e-6,
            },
        };
    }
}
