using Tessera.Formats;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>The class-conditional diffusion transformer of Peebles and Xie (DiT, adaLN-Zero), from diffusers'
/// <c>DiTTransformer2DModel</c> layout (pos_embed.proj, transformer_blocks.{i}, proj_out_1/2) or from the original
/// facebookresearch checkpoints (x_embedder.proj, t_embedder, y_embedder, pos_embed, blocks.{i}, final_layer: see
/// <see cref="DitOriginal"/>): patchify conv plus fixed 2-D sin-cos positions, the blocks (<see cref="DitBlock"/>),
/// a final adaLN (shift, scale) on the conditioning, a linear and unpatchify. Latents [B, C, H, W] with H and W
/// multiples of the patch; the output is [B, out_channels, H, W], whose second half is the learned variance when
/// out_channels = 2 in_channels (<see cref="SplitLearnedSigma"/>).</summary>
public sealed class Dit : IDisposable
{
    private readonly WeightSet _weights;
    private readonly Tensor _patchWeight;
    private readonly Tensor? _patchBias;
    private readonly Tensor? _storedPositions;
    private readonly DitBlock[] _blocks;
    private readonly AdaLayerNorm _final;
    private readonly Linear _proj;

    internal Dit(DitConfig config, WeightSet weights, Tensor patchWeight, Tensor? patchBias, Tensor? storedPositions, DitBlock[] blocks,
        AdaLayerNorm final, Linear proj)
    {
        (Config, _weights, _patchWeight, _patchBias, _storedPositions, _blocks, _final, _proj) =
            (config, weights, patchWeight, patchBias, storedPositions, blocks, final, proj);
    }

    /// <summary>The sizes.</summary>
    public DitConfig Config { get; }

    /// <summary>Rows of the label table: the classes, plus the null class (id <see cref="NullClass"/>) when present.</summary>
    public int LabelRows => _blocks[0].Labels.Vocab;

    /// <summary>The null (unconditional) class id used for classifier-free guidance: num_embeds_ada_norm.</summary>
    public int NullClass => Config.NumEmbedsAdaNorm;

    /// <summary>Opens a DiT in either published layout: a diffusers folder (config.json plus
    /// diffusion_pytorch_model.safetensors, or a <c>transformer/</c> folder inside a pipeline folder), or an original
    /// checkpoint file (<c>DiT-XL-2-256x256.pt</c>, read as data by the safe .pth reader; or the same state dict as
    /// safetensors), whose sizes follow from its tensor shapes.</summary>
    public static Dit Open(IBackend backend, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path)) return DitOriginal.Open(backend, path);
        string folder = path;
        if (!Directory.Exists(folder)) throw new TesseraException($"DiT: {path} is neither a checkpoint file nor a diffusers folder");
        if (!File.Exists(Path.Combine(folder, "config.json")) && Directory.Exists(Path.Combine(folder, "transformer")))
            folder = Path.Combine(folder, "transformer");
        var config = DitConfig.Load(folder);
        string weights = Path.Combine(folder, "diffusion_pytorch_model.safetensors");
        if (!File.Exists(weights)) throw new TesseraException($"DiT: {folder} has no diffusion_pytorch_model.safetensors");
        using var wb = WeightBuilder.Open(backend, weights);
        return Load(wb, config);
    }

    /// <summary>Loads diffusers' layout from a builder at the model's root, checking every tensor's shape against
    /// <paramref name="config"/>.</summary>
    public static Dit Load(WeightBuilder wb, DitConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (config.Layout != DitLayout.Diffusers) return DitOriginal.Load(wb, config);
        int d = config.InnerDim, p = config.PatchSize;
        var proj = wb.Pp("pos_embed").Pp("proj");
        var pw = proj.GetAs("weight", DType.F32, d, config.InChannels, p, p);
        var pb = proj.GetAs("bias", DType.F32, d);
        var blocks = new DitBlock[config.NumLayers];
        for (int i = 0; i < blocks.Length; i++) blocks[i] = DitBlock.Load(wb.Pp("transformer_blocks").Pp(i), config);
        var final = AdaLayerNorm.Load(wb, d, d, chunks: 2, eps: 1e-6f, linear: "proj_out_1");
        var output = Linear.Load(wb.Pp("proj_out_2"), d, p * p * config.OutputChannels);
        return new Dit(config, wb.Commit(), pw, pb, null, blocks, final, output);
    }

    /// <summary>The model output [B, out_channels, H, W] for latents [B, in_channels, H, W], timesteps [B] (f32, the
    /// schedule's discrete t) and class labels (one per sample; <see cref="NullClass"/> for the unconditional branch).</summary>
    public Tensor Forward(Tensor latents, Tensor timesteps, ReadOnlySpan<int> classLabels)
    {
        ArgumentNullException.ThrowIfNull(latents);
        ArgumentNullException.ThrowIfNull(timesteps);
        var cfg = Config;
        int p = cfg.PatchSize;
        if (latents.Rank != 4 || latents.Dim(1) != cfg.InChannels || latents.Dim(2) % p != 0 || latents.Dim(3) % p != 0 || latents.Dim(2) == 0 || latents.Dim(3) == 0)
            throw new TesseraException($"DiT: latents must be [B, {cfg.InChannels}, H, W] with H and W positive multiples of the patch {p}, got {latents.Shape}");
        int b = latents.Dim(0), rows = latents.Dim(2) / p, cols = latents.Dim(3) / p;
        if (timesteps.Rank != 1 || timesteps.Dim(0) != b)
            throw new TesseraException($"DiT: timesteps must be [{b}] for latents {latents.Shape}, got {timesteps.Shape}");
        if (classLabels.Length != b)
            throw new TesseraException($"DiT: {classLabels.Length} class labels for a batch of {b}");
        for (int i = 0; i < b; i++)
            if (classLabels[i] < 0 || classLabels[i] >= LabelRows)
                throw new TesseraException($"DiT: class id {classLabels[i]} (sample {i}) is outside the model's classes: num_classes is {cfg.NumEmbedsAdaNorm}"
                    + (LabelRows > cfg.NumEmbedsAdaNorm ? $", ids 0..{cfg.NumEmbedsAdaNorm - 1} and the null class {NullClass}" : $", ids 0..{cfg.NumEmbedsAdaNorm - 1}"));

        Tensor x;
        using (var patches = latents.PatchEmbed(_patchWeight, _patchBias))            // [B, N, D]
        using (var pos = PositionsFor(latents.Backend, rows, cols))
            x = patches + pos;
        Tensor? first = null, c = null;
        try
        {
            for (int i = 0; i < _blocks.Length; i++)
            {
                // Every diffusers block embeds its own conditioning (the original's blocks share one, embedded once);
                // the final layer reads the first block's.
                if (i == 0 || !ReferenceEquals(_blocks[i].Embedder, _blocks[i - 1].Embedder))
                {
                    var next = _blocks[i].Conditioning(timesteps, classLabels);
                    c?.Dispose();
                    c = next;
                }
                using var prev = x;
                x = _blocks[i].Forward(prev, c!);
                if (i == 0) first = c!.Share();
            }
            using var m = _final.Forward(first!);
            using var n = _final.Modulate(x, m[0], m[1]);
            using var y = _proj.Forward(n);                                            // [B, N, p*p*C]
            return Unpatchify(y, rows, cols, p, cfg.OutputChannels);
        }
        finally
        {
            x.Dispose();
            first?.Dispose();
            c?.Dispose();
        }
    }

    // diffusers rescales the sin-cos table to the trained grid; an original checkpoint carries its table (used at its
    // own grid only) or, without one, builds it over the patch indices as the original code does.
    private Tensor PositionsFor(IBackend backend, int rows, int cols)
    {
        var cfg = Config;
        if (cfg.Layout == DitLayout.Diffusers) return DitPositions.SinCos2d(backend, cfg.InnerDim, rows, cols, cfg.SampleSize / cfg.PatchSize);
        if (_storedPositions is null) return DitPositions.SinCos2dIndices(backend, cfg.InnerDim, rows, cols);
        int grid = cfg.SampleSize / cfg.PatchSize;
        if (rows != grid || cols != grid)
            throw new TesseraException($"DiT: this checkpoint's pos_embed covers a {grid}x{grid} patch grid (latents {cfg.SampleSize}x{cfg.SampleSize}), "
                + $"the latents give {rows}x{cols} (latents {rows * cfg.PatchSize}x{cols * cfg.PatchSize})");
        return _storedPositions.Share();
    }

    /// <summary>Splits an output whose channels are 2 x in_channels into the prediction (epsilon) and the learned
    /// variance values, each [B, in_channels, H, W]; an output without learned sigma is refused.</summary>
    public (Tensor Prediction, Tensor Variance) SplitLearnedSigma(Tensor output)
    {
        ArgumentNullException.ThrowIfNull(output);
        int c = Config.InChannels;
        if (output.Rank != 4 || output.Dim(1) != 2 * c)
            throw new TesseraException($"DiT: a learned-sigma split needs an output [B, {2 * c}, H, W] (2 x in_channels {c}), got {output.Shape}");
        using var eps = output.Narrow(1, 0, c);
        using var variance = output.Narrow(1, c, c);
        return (eps.Contiguous(), variance.Contiguous());
    }

    /// <summary>Whether the output carries a learned variance: out_channels = 2 x in_channels (DiT's learn_sigma).</summary>
    public bool LearnsSigma => Config.OutputChannels == 2 * Config.InChannels;

    /// <summary>The network as the samplers call it: a fixed class per sample (<see cref="NullClass"/> for every sample
    /// gives the unconditional branch of classifier-free guidance, through <see cref="GuidedDenoiser"/>), the timestep
    /// shared by the batch, the whole output [B, out_channels, H, W] (with <see cref="LearnsSigma"/>, give it to a
    /// <see cref="DiscreteModelDenoiser"/> made with learnedSigma, whose DDPM steps then use the learned variance).</summary>
    public DiffusionModel AsModel(IReadOnlyList<int> classLabels)
    {
        ArgumentNullException.ThrowIfNull(classLabels);
        int[] labels = [.. classLabels];
        return (input, timestep) =>
        {
            var t = new float[input.Dim(0)];
            Array.Fill(t, (float)timestep);
            using var ts = Tensor.FromArray(input.Backend, t, t.Length);
            return Forward(input, ts, labels);
        };
    }

    /// <summary>As <see cref="AsModel"/>, with the learned variance dropped when the model has one: the epsilon
    /// prediction alone (<see cref="PredictionType.Epsilon"/>).</summary>
    public DiffusionModel AsEpsilonModel(IReadOnlyList<int> classLabels)
    {
        var model = AsModel(classLabels);
        return (input, timestep) =>
        {
            var output = model(input, timestep);
            if (!LearnsSigma) return output;
            using (output)
            {
                var (eps, variance) = SplitLearnedSigma(output);
                variance.Dispose();
                return eps;
            }
        };
    }

    // [B, h*w, p*p*C] (each token's values ordered p, q, c) -> [B, C, h*p, w*p].
    internal static Tensor Unpatchify(Tensor y, int rows, int cols, int p, int channels)
    {
        int b = y.Dim(0);
        using var grid = y.Reshape(b * rows, cols, p, p, channels);
        using var perm = grid.Permute(0, 4, 2, 1, 3);                                 // [B*h, C, p, w, q]
        using var dense = perm.Contiguous();
        using var split = dense.Reshape(b, rows, channels, p * cols * p);
        using var chw = split.Permute(0, 2, 1, 3);                                     // [B, C, h, p*w*q]
        using var dense2 = chw.Contiguous();
        return dense2.Reshape(b, channels, rows * p, cols * p);
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose() => _weights.Dispose();
}
