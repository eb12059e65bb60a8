using Tessera.Formats.Configs;

namespace Tessera.Formats.Tests;

/// <summary>Hugging Face config.json records, read from configs as published models ship them (trimmed of keys the
/// records do not read, which are ignored anyway).</summary>
public class ConfigTests
{
    internal const string TinyLlama = """
        {
          "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 1, "eos_token_id": 2,
          "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632,
          "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22,
          "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0,
          "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.35.0", "use_cache": true, "vocab_size": 32000
        }
        """;

    private const string Llama32 = """
        {
          "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 128000,
          "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
          "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
          "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
          "pretraining_tp": 1, "rms_norm_eps": 1e-05,
          "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
          "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true, "vocab_size": 128256
        }
        """;

    [Fact]
    public void LlamaConfigsReadAsPublished()
    {
        var c = HfConfig.Parse<LlamaConfig>(TinyLlama);
        Assert.Equal((2048, 5632, 22, 32, 32000), (c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.VocabSize));
        Assert.Equal(4, c.KvHeads);
        Assert.Equal(64, c.HeadDimension);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Null(c.RopeScaling);
        Assert.Equal(new[] { 1 }, c.BosTokenId);
        Assert.Equal(new[] { 2 }, c.EosTokenId);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.False(c.TieWordEmbeddings);
        Assert.Null(c.SlidingWindow);

        var l3 = HfConfig.Parse<LlamaConfig>(Llama32);
        Assert.Equal(new[] { 128001, 128008, 128009 }, l3.EosTokenId);
        Assert.Equal(new[] { 128000 }, l3.BosTokenId);
        Assert.Equal(8, l3.KvHeads);
        Assert.Equal(500000.0, l3.RopeTheta);
        Assert.True(l3.TieWordEmbeddings);
        Assert.Equal("llama3", l3.RopeScaling!.Kind);
        Assert.Equal((32.0, 1.0, 4.0, 8192), (l3.RopeScaling.Factor, l3.RopeScaling.LowFreqFactor, l3.RopeScaling.HighFreqFactor, l3.RopeScaling.OriginalMaxPositionEmbeddings));
    }

    [Fact]
    public void AbsentLlamaKeysTakeTransformersDefaults()
    {
        var c = HfConfig.Parse<LlamaConfig>("""{"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512, "sliding_window": 4096, "rope_scaling": {"type": "linear", "factor": 2.0}}""");
        Assert.Equal(8, c.KvHeads);
        Assert.Equal(8, c.HeadDimension);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(2048, c.MaxPositionEmbeddings);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Equal("llama", c.ModelType);
        Assert.Equal(new[] { 1 }, c.BosTokenId);
        Assert.Equal(new[] { 2 }, c.EosTokenId);
        Assert.Null(c.PadTokenId);
        Assert.Equal(4096, c.SlidingWindow);
        Assert.Equal("linear", c.RopeScaling!.Kind);
        Assert.False(c.AttentionBias);
    }

    [Fact]
    public void VitAndBertConfigsReadAsPublished()
    {
        var vit = HfConfig.Parse<VitConfig>("""
            {"architectures": ["ViTForImageClassification"], "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu",
             "hidden_dropout_prob": 0.0, "hidden_size": 768, "id2label": {"0": "tench, Tinca tinca", "1": "goldfish, Carassius auratus"},
             "image_size": 224, "initializer_range": 0.02, "intermediate_size": 3072, "label2id": {"tench, Tinca tinca": 0},
             "layer_norm_eps": 1e-12, "model_type": "vit", "num_attention_heads": 12, "num_channels": 3, "num_hidden_layers": 12,
             "patch_size": 16, "qkv_bias": true, "transformers_version": "4.13.0.dev0"}
            """);
        Assert.Equal((768, 12, 12, 3072, 224, 16), (vit.HiddenSize, vit.NumHiddenLayers, vit.NumAttentionHeads, vit.IntermediateSize, vit.ImageSize, vit.PatchSize));
        Assert.Equal("goldfish, Carassius auratus", vit.Id2Label!["1"]);
        Assert.Equal(1e-12, vit.LayerNormEps);
        Assert.True(vit.QkvBias);

        var bert = HfConfig.Parse<BertConfig>("""
            {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false, "hidden_act": "gelu",
             "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-12,
             "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0,
             "position_embedding_type": "absolute", "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": true, "vocab_size": 30522}
            """);
        Assert.Equal((30522, 768, 12, 12, 3072, 2, 512), (bert.VocabSize, bert.HiddenSize, bert.NumHiddenLayers, bert.NumAttentionHeads, bert.IntermediateSize, bert.TypeVocabSize, bert.MaxPositionEmbeddings));
        Assert.Equal("absolute", bert.PositionEmbeddingType);
    }

    [Fact]
    public void ClipAndSiglipTowersTakeDefaultsForWhatTheFileOmits()
    {
        var clip = HfConfig.Parse<ClipConfig>("""
            {"architectures": ["CLIPModel"], "initializer_factor": 1.0, "logit_scale_init_value": 2.6592, "model_type": "clip", "projection_dim": 512,
             "text_config": {"bos_token_id": 0, "eos_token_id": 2, "model_type": "clip_text_model", "dropout": 0.0},
             "text_config_dict": null,
             "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768},
             "vision_config_dict": null}
            """);
        Assert.Equal(512, clip.ProjectionDim);
        Assert.Equal(2.6592, clip.LogitScaleInitValue);
        Assert.Equal((512, 2048, 12, 8, 77, 49408), (clip.TextConfig.HiddenSize, clip.TextConfig.IntermediateSize, clip.TextConfig.NumHiddenLayers, clip.TextConfig.NumAttentionHeads, clip.TextConfig.MaxPositionEmbeddings, clip.TextConfig.VocabSize));
        Assert.Equal(2, clip.TextConfig.EosTokenId);
        Assert.Equal("quick_gelu", clip.TextConfig.HiddenAct);
        Assert.Equal((1024, 4096, 16, 24, 14, 224), (clip.VisionConfig.HiddenSize, clip.VisionConfig.IntermediateSize, clip.VisionConfig.NumAttentionHeads, clip.VisionConfig.NumHiddenLayers, clip.VisionConfig.PatchSize, clip.VisionConfig.ImageSize));
        Assert.Equal(1e-5, clip.VisionConfig.LayerNormEps);

        var empty = HfConfig.Parse<ClipConfig>("{}");
        Assert.Equal(32, empty.VisionConfig.PatchSize);

        var siglip = HfConfig.Parse<SiglipConfig>("""
            {"architectures": ["SiglipModel"], "initializer_factor": 1.0, "model_type": "siglip",
             "text_config": {"hidden_size": 768, "intermediate_size": 3072, "model_type": "siglip_text_model", "num_attention_heads": 12, "num_hidden_layers": 12, "vocab_size": 32000},
             "vision_config": {"image_size": 384, "model_type": "siglip_vision_model", "patch_size": 16}}
            """);
        Assert.Equal(384, siglip.VisionConfig.ImageSize);
        Assert.Equal(768, siglip.VisionConfig.HiddenSize);
        Assert.Equal("gelu_pytorch_tanh", siglip.VisionConfig.HiddenAct);
        Assert.Equal(1e-6, siglip.TextConfig.LayerNormEps);
        Assert.Equal(64, siglip.TextConfig.MaxPositionEmbeddings);
        Assert.Null(siglip.TextConfig.ProjectionSize);
        Assert.True(siglip.VisionConfig.VisionUseHead);
    }

    [Fact]
    public void LoadTakesAFileOrAModelDirectory()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), TinyLlama);
        Assert.Equal(22, HfConfig.Load<LlamaConfig>(dir.Path).NumHiddenLayers);
        Assert.Equal(22, HfConfig.Load<LlamaConfig>(dir.File("config.json")).NumHiddenLayers);
        var e = Assert.Throws<ConfigException>(() => HfConfig.Load<PreprocessorConfig>(dir.Path));
        Assert.Contains("the model directory has no preprocessor_config.json", e.Message);
        Assert.Equal(dir.File("preprocessor_config.json"), e.File);
        Assert.Contains("no such file", Assert.Throws<ConfigException>(() => HfConfig.Load<LlamaConfig>(dir.File("nope.json"))).Message);
    }
}
