using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Diffusion.Vae;
using Tessera.Models.Tests.Diffusion;

namespace Tessera.Cuda.Tests.Diffusion;

/// <summary>Tiny random checkpoints of every diffusion network Tessera runs, each in its published layout and opened
/// through the model's own loader: a DiT (diffusers' DiTTransformer2DModel, learned sigma, a null class), an MMDiT
/// (SD3Transformer2DModel with qk RMSNorm), two AutoencoderKLs (one whose mid attention is narrow enough for the
/// fused attention op, one wider than its 256 head limit, which takes the unfused matmul-softmax path), and the TAESD
/// (4 channels) and TAEF2 (32 channels, GroupNorm pooling branch) encoder and decoder halves. Weights at PyTorch's
/// default initialisation scale (adaLN's too, not its zeros: every path must carry signal). Written once into a
/// temporary folder, deleted on dispose.</summary>
public sealed class TinyDiffusionCheckpoints : IDisposable
{
    public const int DitHeads = 2, DitHeadDim = 8, DitIn = 4, DitOut = 8, DitLayers = 2, DitPatch = 2, DitSample = 8, DitClasses = 5;
    public const int MmHeads = 2, MmHeadDim = 8, MmIn = 4, MmLayers = 2, MmPatch = 2, MmSample = 8, MmJoint = 12, MmPooled = 10;

    private readonly Random _rng = new(1508);

    public string Root { get; } = Directory.CreateTempSubdirectory("tessera-cuda-diffusion-").FullName;

    public string Dit => Path.Combine(Root, "dit");
    public string DitOriginal => Path.Combine(Root, "dit-original.safetensors");
    public string Mmdit => Path.Combine(Root, "mmdit");
    public string Kl => Path.Combine(Root, "kl");
    public string KlWide => Path.Combine(Root, "kl-wide");
    public string TaesdEncoder => Path.Combine(Root, "taesd_encoder.safetensors");
    public string TaesdDecoder => Path.Combine(Root, "taesd_decoder.safetensors");
    public string Taef2Encoder => Path.Combine(Root, "taef2_encoder.safetensors");
    public string Taef2Decoder => Path.Combine(Root, "taef2_decoder.safetensors");

    public static AutoencoderKlConfig KlConfig { get; } = new([16, 32], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 8, SampleSize: 16);

    // 264 > 256: the mid block's single attention head is too wide for the fused op (KlAttention.MaxFusedHeadDim).
    public static AutoencoderKlConfig KlWideConfig { get; } = new([8, 264], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 8,
        UseQuantConv: false, UsePostQuantConv: false, ShiftFactor: 0.1, SampleSize: 16);

    public TinyDiffusionCheckpoints()
    {
        WriteDit();
        SafetensorsWriter.Write(DitOriginal, DitOriginalTensors());
        WriteMmdit();
        WriteKl(KlConfig, Kl);
        WriteKl(KlWideConfig, KlWide);
        SafetensorsWriter.Write(TaesdEncoder, TaeEncoder(4, mid: false));
        SafetensorsWriter.Write(TaesdDecoder, TaeDecoder(4, mid: false));
        SafetensorsWriter.Write(Taef2Encoder, TaeEncoder(32, mid: true));
        SafetensorsWriter.Write(Taef2Decoder, TaeDecoder(32, mid: true));
    }

    private float[] Random(float bound, int[] shape)
    {
        var v = new float[shape.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * bound);
        return v;
    }

    private void Param(List<WeightTensor> into, string name, float bound, params int[] shape) =>
        into.Add(WeightTensor.FromValues(name, [.. shape.Select(d => (long)d)], Random(bound, shape)));

    private void Linear(List<WeightTensor> into, string name, int i, int o)
    {
        Param(into, name + ".weight", 1 / MathF.Sqrt(i), o, i);
        Param(into, name + ".bias", 1 / MathF.Sqrt(i), o);
    }

    private void Conv(List<WeightTensor> into, string name, int cin, int cout, int k, bool bias)
    {
        float bound = 1 / MathF.Sqrt(cin * k * k);
        Param(into, name + ".weight", bound, cout, cin, k, k);
        if (bias) Param(into, name + ".bias", bound, cout);
    }

    private static void WriteFolder(string dir, List<WeightTensor> tensors, Dictionary<string, object?> config)
    {
        Directory.CreateDirectory(dir);
        SafetensorsWriter.Write(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
    }

    // diffusers' DiTTransformer2DModel: every block embeds its own conditioning (norm1.emb).
    private void WriteDit()
    {
        const int d = DitHeads * DitHeadDim;
        var t = new List<WeightTensor>();
        Param(t, "pos_embed.proj.weight", 1 / MathF.Sqrt(DitIn * DitPatch * DitPatch), d, DitIn, DitPatch, DitPatch);
        Param(t, "pos_embed.proj.bias", 0.3f, d);
        for (int l = 0; l < DitLayers; l++)
        {
            string p = $"transformer_blocks.{l}";
            Linear(t, $"{p}.norm1.emb.timestep_embedder.linear_1", 256, d);
            Linear(t, $"{p}.norm1.emb.timestep_embedder.linear_2", d, d);
            Param(t, $"{p}.norm1.emb.class_embedder.embedding_table.weight", 1f, DitClasses + 1, d);
            Linear(t, $"{p}.norm1.linear", d, 6 * d);
            foreach (var proj in new[] { "to_q", "to_k", "to_v", "to_out.0" }) Linear(t, $"{p}.attn1.{proj}", d, d);
            Linear(t, $"{p}.ff.net.0.proj", d, 4 * d);
            Linear(t, $"{p}.ff.net.2", 4 * d, d);
        }
        Linear(t, "proj_out_1", d, 2 * d);
        Linear(t, "proj_out_2", d, DitPatch * DitPatch * DitOut);
        WriteFolder(Dit, t, new()
        {
            ["_class_name"] = "DiTTransformer2DModel", ["num_attention_heads"] = DitHeads, ["attention_head_dim"] = DitHeadDim,
            ["in_channels"] = DitIn, ["out_channels"] = DitOut, ["num_layers"] = DitLayers, ["dropout"] = 0.0,
            ["norm_num_groups"] = 32, ["attention_bias"] = true, ["sample_size"] = DitSample, ["patch_size"] = DitPatch,
            ["activation_fn"] = "gelu-approximate", ["num_embeds_ada_norm"] = DitClasses, ["upcast_attention"] = false,
            ["norm_type"] = "ada_norm_zero", ["norm_elementwise_affine"] = false, ["norm_eps"] = 1e-5,
        });
    }

    // facebookresearch's state dict (x_embedder, t_embedder, y_embedder, pos_embed, blocks.{i}, final_layer): sizes come
    // from the shapes, heads from the DiT width table (64 wide: one head of 64); a stored 4x4 position table.
    private List<WeightTensor> DitOriginalTensors()
    {
        const int d = 64;
        var t = new List<WeightTensor>();
        Param(t, "x_embedder.proj.weight", 1 / MathF.Sqrt(DitIn * DitPatch * DitPatch), d, DitIn, DitPatch, DitPatch);
        Param(t, "x_embedder.proj.bias", 0.3f, d);
        Param(t, "pos_embed", 1f, 1, DitSample / DitPatch * (DitSample / DitPatch), d);
        Linear(t, "t_embedder.mlp.0", 256, d);
        Linear(t, "t_embedder.mlp.2", d, d);
        Param(t, "y_embedder.embedding_table.weight", 1f, DitClasses + 1, d);
        Linear(t, "blocks.0.attn.qkv", d, 3 * d);
        Linear(t, "blocks.0.attn.proj", d, d);
        Linear(t, "blocks.0.mlp.fc1", d, 4 * d);
        Linear(t, "blocks.0.mlp.fc2", 4 * d, d);
        Linear(t, "blocks.0.adaLN_modulation.1", d, 6 * d);
        Linear(t, "final_layer.linear", d, DitPatch * DitPatch * DitOut);
        Linear(t, "final_layer.adaLN_modulation.1", d, 2 * d);
        return t;
    }

    // diffusers' SD3Transformer2DModel (the last block is context_pre_only), qk RMSNorm as SD3.5 has it.
    private void WriteMmdit()
    {
        const int d = MmHeads * MmHeadDim;
        var t = new List<WeightTensor>();
        Param(t, "pos_embed.proj.weight", 1 / MathF.Sqrt(MmIn * MmPatch * MmPatch), d, MmIn, MmPatch, MmPatch);
        Param(t, "pos_embed.proj.bias", 0.3f, d);
        Linear(t, "time_text_embed.timestep_embedder.linear_1", 256, d);
        Linear(t, "time_text_embed.timestep_embedder.linear_2", d, d);
        Linear(t, "time_text_embed.text_embedder.linear_1", MmPooled, d);
        Linear(t, "time_text_embed.text_embedder.linear_2", d, d);
        Linear(t, "context_embedder", MmJoint, d);
        for (int l = 0; l < MmLayers; l++)
        {
            string p = $"transformer_blocks.{l}.";
            bool last = l == MmLayers - 1;
            Linear(t, p + "norm1.linear", d, 6 * d);
            Linear(t, p + "norm1_context.linear", d, (last ? 2 : 6) * d);
            foreach (var n in new[] { "to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0" }) Linear(t, p + "attn." + n, d, d);
            if (!last) Linear(t, p + "attn.to_add_out", d, d);
            foreach (var n in new[] { "norm_q", "norm_k", "norm_added_q", "norm_added_k" }) Param(t, p + "attn." + n + ".weight", 1.5f, MmHeadDim);
            Linear(t, p + "ff.net.0.proj", d, 4 * d);
            Linear(t, p + "ff.net.2", 4 * d, d);
            if (last) continue;
            Linear(t, p + "ff_context.net.0.proj", d, 4 * d);
            Linear(t, p + "ff_context.net.2", 4 * d, d);
        }
        Linear(t, "norm_out.linear", d, 2 * d);
        Linear(t, "proj_out", d, MmPatch * MmPatch * MmIn);
        WriteFolder(Mmdit, t, new()
        {
            ["_class_name"] = "SD3Transformer2DModel", ["sample_size"] = MmSample, ["patch_size"] = MmPatch, ["in_channels"] = MmIn,
            ["num_layers"] = MmLayers, ["attention_head_dim"] = MmHeadDim, ["num_attention_heads"] = MmHeads, ["joint_attention_dim"] = MmJoint,
            ["caption_projection_dim"] = d, ["pooled_projection_dim"] = MmPooled, ["out_channels"] = MmIn,
            ["pos_embed_max_size"] = MmSample, ["dual_attention_layers"] = Array.Empty<int>(), ["qk_norm"] = "rms_norm",
        });
    }

    private void WriteKl(AutoencoderKlConfig config, string dir) =>
        new AutoencoderKlCheckpoint(config, (_, bound, shape) => Random(bound, shape)).WriteFolder(dir);

    // taesd.py's Block: conv.0, conv.2, conv.4 (3x3, bias), skip only where widths differ (never here: all 64); TAEF2's
    // pooling branch: pool.0 (1x1, 64 -> 256), pool.1 (GroupNorm affine), pool.3 (1x1, 256 -> 64).
    private void TaeBlock(List<WeightTensor> t, string p, bool mid)
    {
        foreach (var c in new[] { "conv.0", "conv.2", "conv.4" }) Conv(t, $"{p}.{c}", 64, 64, 3, bias: true);
        if (!mid) return;
        Conv(t, $"{p}.pool.0", 64, 256, 1, bias: false);
        var w = Random(0.2f, [256]);
        for (int i = 0; i < w.Length; i++) w[i] += 1;
        t.Add(WeightTensor.FromValues($"{p}.pool.1.weight", [256], w));
        Param(t, $"{p}.pool.1.bias", 0.2f, 256);
        Conv(t, $"{p}.pool.3", 256, 64, 1, bias: false);
    }

    // conv(3, 64), Block; three times: stride-2 conv (no bias), 3 Blocks (the last stage's with the pool); conv(64, C).
    private List<WeightTensor> TaeEncoder(int latent, bool mid)
    {
        var t = new List<WeightTensor>();
        Conv(t, "0", 3, 64, 3, bias: true);
        TaeBlock(t, "1", false);
        for (int stage = 0; stage < 3; stage++)
        {
            int i = 2 + 4 * stage;
            Conv(t, $"{i}", 64, 64, 3, bias: false);
            for (int j = 1; j <= 3; j++) TaeBlock(t, $"{i + j}", mid && stage == 2);
        }
        Conv(t, "14", 64, latent, 3, bias: true);
        return t;
    }

    // Clamp, conv(C, 64), ReLU; three times: 3 Blocks (the first stage's with the pool), upsample, conv (no bias);
    // Block, conv(64, 3).
    private List<WeightTensor> TaeDecoder(int latent, bool mid)
    {
        var t = new List<WeightTensor>();
        Conv(t, "1", latent, 64, 3, bias: true);
        for (int stage = 0; stage < 3; stage++)
        {
            int i = 3 + 5 * stage;
            for (int j = 0; j < 3; j++) TaeBlock(t, $"{i + j}", mid && stage == 0);
            Conv(t, $"{i + 4}", 64, 64, 3, bias: false);
        }
        TaeBlock(t, "18", false);
        Conv(t, "19", 64, 3, 3, bias: true);
        return t;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { /* a mapped file may still be open on Windows */ }
    }
}
