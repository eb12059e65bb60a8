using Tessera.Formats;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>The multimodal diffusion transformer of Stable Diffusion 3 (Esser et al. 2024), in diffusers'
/// <c>SD3Transformer2DModel</c> layout: pos_embed.proj (patchify conv) plus a 2-D sin-cos table cropped to the image's
/// grid (pos_embed.pos_embed, pos_embed_max_size on a side, centred), time_text_embed (timestep MLP + pooled text
/// MLP), context_embedder for the text tokens, joint blocks (<see cref="MmditBlock"/>), norm_out (adaLN continuous:
/// scale, shift), proj_out and unpatchify. A rectified-flow model: it predicts the velocity ε - x_0 at timestep
/// σ·1000 (<see cref="AsFlowModel"/>). Runs on given text embeddings (encoder_hidden_states [B, T, joint dim],
/// pooled_projections [B, pooled dim]).</summary>
public sealed class Mmdit : IDisposable
{
    private readonly WeightSet _weights;
    private readonly Tensor _patchWeight, _patchBias, _positions;
    private readonly TimestepEmbedding _timestep;
    private readonly Mlp _text;
    private readonly Linear _context;
    private readonly MmditBlock[] _blocks;
    private readonly AdaLayerNorm _normOut;
    private readonly Linear _proj;

    private Mmdit(MmditConfig config, WeightSet weights, Tensor[] patch, TimestepEmbedding timestep, Mlp text, Linear context,
        MmditBlock[] blocks, AdaLayerNorm normOut, Linear proj)
    {
        (Config, _weights, _patchWeight, _patchBias, _positions) = (config, weights, patch[0], patch[1], patch[2]);
        (_timestep, _text, _context, _blocks, _normOut, _proj) = (timestep, text, context, blocks, normOut, proj);
    }

    /// <summary>The sizes.</summary>
    public MmditConfig Config { get; }

    /// <summary>Opens a diffusers folder: config.json and diffusion_pytorch_model.safetensors (or its sharded index),
    /// or a pipeline folder holding them under <c>transformer/</c>.</summary>
    public static Mmdit Open(IBackend backend, string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!File.Exists(Path.Combine(folder, "config.json")) && Directory.Exists(Path.Combine(folder, "transformer")))
            folder = Path.Combine(folder, "transformer");
        var config = MmditConfig.Load(folder);
        string[] files = Directory.Exists(folder)
            ? Directory.GetFiles(folder, "diffusion_pytorch_model*.safetensors").Order(StringComparer.Ordinal).ToArray() : [];
        if (files.Length == 0) throw new TesseraException($"MMDiT: {folder} has no diffusion_pytorch_model*.safetensors");
        using var wb = WeightBuilder.Open(backend, files);
        return Load(wb, config);
    }

    /// <summary>Loads from a builder at the model's root, checking every tensor's shape against <paramref name="config"/>.</summary>
    public static Mmdit Load(WeightBuilder wb, MmditConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        int d = config.InnerDim, p = config.PatchSize, max = config.PosEmbedMaxSize;
        var pe = wb.Pp("pos_embed");
        var pw = pe.Pp("proj").GetAs("weight", DType.F32, d, config.InChannels, p, p);
        var pb = pe.Pp("proj").GetAs("bias", DType.F32, d);
        // A persistent buffer in every published checkpoint; built from its definition when a file leaves it out.
        var table = pe.Contains("pos_embed") ? pe.GetAs("pos_embed", DType.F32, 1, max * max, d)
            : wb.Own(DitPositions.SinCos2d(wb.Backend, d, max, max, config.SampleSize / p));
        var pos = wb.Own(table.Reshape(max, max, d));
        var tt = wb.Pp("time_text_embed");
        var timestep = TimestepEmbedding.Load(tt.Pp("timestep_embedder"), 256, d, flipSinToCos: true, downscaleFreqShift: 0);
        var te = tt.Pp("text_embedder");
        var text = new Mlp(Linear.Load(te.Pp("linear_1"), config.PooledProjectionDim, d), Linear.Load(te.Pp("linear_2"), d, d), Activation.Silu);
        var context = Linear.Load(wb.Pp("context_embedder"), config.JointAttentionDim, config.CaptionProjectionDim);
        var blocks = new MmditBlock[config.NumLayers];
        for (int i = 0; i < blocks.Length; i++)
            blocks[i] = MmditBlock.Load(wb.Pp("transformer_blocks").Pp(i), config, contextPreOnly: i == blocks.Length - 1);
        var normOut = AdaLayerNorm.Load(wb.Pp("norm_out"), d, d, chunks: 2, eps: 1e-6f, linear: "linear");
        var proj = Linear.Load(wb.Pp("proj_out"), d, p * p * config.OutChannels);
        return new Mmdit(config, wb.Commit(), [pw, pb, pos], timestep, text, context, blocks, normOut, proj);
    }

    /// <summary>The velocity [B, out_channels, H, W] for latents [B, in_channels, H, W] (H and W multiples of the
    /// patch, at most pos_embed_max_size patches a side), timesteps [B] (f32, σ·1000), text tokens
    /// <paramref name="encoderHiddenStates"/> [B, T, joint_attention_dim] and <paramref name="pooledProjections"/>
    /// [B, pooled_projection_dim].</summary>
    public Tensor Forward(Tensor latents, Tensor timesteps, Tensor encoderHiddenStates, Tensor pooledProjections)
    {
        ArgumentNullException.ThrowIfNull(latents);
        ArgumentNullException.ThrowIfNull(timesteps);
        ArgumentNullException.ThrowIfNull(encoderHiddenStates);
        ArgumentNullException.ThrowIfNull(pooledProjections);
        var cfg = Config;
        int p = cfg.PatchSize, max = cfg.PosEmbedMaxSize;
        if (latents.Rank != 4 || latents.Dim(1) != cfg.InChannels || latents.Dim(2) % p != 0 || latents.Dim(3) % p != 0 || latents.Dim(2) == 0 || latents.Dim(3) == 0)
            throw new TesseraException($"MMDiT: latents must be [B, {cfg.InChannels}, H, W] with H and W positive multiples of the patch {p}, got {latents.Shape}");
        int b = latents.Dim(0), rows = latents.Dim(2) / p, cols = latents.Dim(3) / p;
        if (rows > max || cols > max)
            throw new TesseraException($"MMDiT: latents {latents.Shape} give a {rows}x{cols} patch grid, past pos_embed_max_size {max} (latents up to {max * p}x{max * p})");
        if (timesteps.Rank != 1 || timesteps.Dim(0) != b)
            throw new TesseraException($"MMDiT: timesteps must be [{b}] for latents {latents.Shape}, got {timesteps.Shape}");
        if (encoderHiddenStates.Rank != 3 || encoderHiddenStates.Dim(0) != b || encoderHiddenStates.Dim(2) != cfg.JointAttentionDim || encoderHiddenStates.Dim(1) == 0)
            throw new TesseraException($"MMDiT: encoder_hidden_states must be [{b}, T, {cfg.JointAttentionDim}], got {encoderHiddenStates.Shape}");
        if (pooledProjections.Rank != 2 || pooledProjections.Dim(0) != b || pooledProjections.Dim(1) != cfg.PooledProjectionDim)
            throw new TesseraException($"MMDiT: pooled_projections must be [{b}, {cfg.PooledProjectionDim}], got {pooledProjections.Shape}");

        Tensor x;
        Tensor? c = null;
        using (var patches = latents.PatchEmbed(_patchWeight, _patchBias))            // [B, N, D]
        using (var pos = CroppedPositions(rows, cols))
            x = patches + pos;
        Tensor? temb = null;
        try
        {
            c = _context.Forward(encoderHiddenStates);                                // [B, T, D]
            using (var t = _timestep.Forward(timesteps))
            using (var pooled = _text.Forward(pooledProjections))
                temb = t + pooled;
            for (int i = 0; i < _blocks.Length; i++)
            {
                // Only the last block (context_pre_only) returns no text tokens.
                var (nx, nc) = _blocks[i].Forward(x, c ?? throw new TesseraException($"MMDiT: block {i - 1} gave no text tokens"), temb);
                x.Dispose();
                c.Dispose();
                (x, c) = (nx, nc);
            }
            using var m = _normOut.Forward(temb);
            using var n = _normOut.Modulate(x, shift: m[1], scale: m[0]);            // AdaLayerNormContinuous: scale first
            using var y = _proj.Forward(n);
            return Dit.Unpatchify(y, rows, cols, p, cfg.OutChannels);
        }
        finally
        {
            x.Dispose();
            c?.Dispose();
            temb?.Dispose();
        }
    }

    /// <summary>The network as the samplers call it (<see cref="FlowModelDenoiser"/>: timestep σ·1000 shared by the
    /// batch), on fixed text embeddings.</summary>
    public DiffusionModel AsFlowModel(Tensor encoderHiddenStates, Tensor pooledProjections)
    {
        ArgumentNullException.ThrowIfNull(encoderHiddenStates);
        ArgumentNullException.ThrowIfNull(pooledProjections);
        return (input, timestep) =>
        {
            var t = new float[input.Dim(0)];
            Array.Fill(t, (float)timestep);
            using var ts = Tensor.FromArray(input.Backend, t, t.Length);
            return Forward(input, ts, encoderHiddenStates, pooledProjections);
        };
    }

    // The stored max x max table's centred rows x cols window, [rows * cols, D].
    private Tensor CroppedPositions(int rows, int cols)
    {
        int max = Config.PosEmbedMaxSize, top = (max - rows) / 2, left = (max - cols) / 2;
        using var r = _positions.Narrow(0, top, rows);
        using var window = r.Narrow(1, left, cols);
        using var dense = window.Contiguous();
        return dense.Reshape(rows * cols, Config.InnerDim);
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
