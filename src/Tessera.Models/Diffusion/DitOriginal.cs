using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>facebookresearch/DiT's checkpoints (<c>DiT-XL-2-256x256.pt</c>: a pickled state dict, read as data by the
/// safe .pth reader; training checkpoints keep it under "ema", tried first). There is no config: the sizes follow
/// from the tensor shapes (width and patch from x_embedder.proj, depth from the blocks present, heads from the DiT
/// model table, classes from y_embedder's table less its null row, learned sigma when final_layer.linear gives
/// 2 x in channels, the trained grid from pos_embed when stored). The timestep features use the original's
/// frequencies (exp(-ln 10000 i / 128), where diffusers' port divides by 127) and the second LayerNorm's epsilon is
/// 1e-6.</summary>
public static class DitOriginal
{
    /// <summary>Heads by width in the DiT model table (S 384: 6, B 768: 12, L 1024: 16, XL 1152: 16); another width
    /// gets heads of 64 when it divides into them.</summary>
    public static int HeadsForWidth(int width) => width switch
    {
        384 => 6,
        768 => 12,
        1024 => 16,
        1152 => 16,
        _ when width > 0 && width % 64 == 0 => width / 64,
        _ => throw new TesseraException($"DiT: width {width} is not in the DiT model table (S 384, B 768, L 1024, XL 1152) and does not divide into heads of 64"),
    };

    /// <summary>Opens an original checkpoint file (.pt/.pth, or the same names in safetensors).</summary>
    public static Dit Open(IBackend backend, string path)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(path);
        var options = new WeightBuilderOptions(Renames: WeightRenames.None.WithPrefixes("ema.", "module.", "model."));
        using var wb = WeightBuilder.Open(backend, options, path);
        if (!wb.Contains("x_embedder.proj.weight"))
            throw new TesseraException($"DiT: {path} has no x_embedder.proj.weight: not an original DiT checkpoint (a diffusers DiT is a folder with config.json)");
        return Load(wb, Infer(wb));
    }

    /// <summary>The sizes an original checkpoint's tensor shapes give.</summary>
    public static DitConfig Infer(WeightBuilder wb)
    {
        ArgumentNullException.ThrowIfNull(wb);
        var patch = Dims(wb, "x_embedder.proj.weight", 4);                             // [D, C, p, p]
        int d = patch[0], inCh = patch[1], p = patch[2];
        if (p != patch[3]) throw new TesseraException($"DiT: x_embedder.proj.weight [{string.Join(", ", patch)}] is not a square patch");
        int depth = 0;
        while (wb.Contains($"blocks.{depth}.attn.qkv.weight")) depth++;
        if (depth == 0) throw new TesseraException($"DiT: {wb.Path} has no blocks.0.attn.qkv.weight");
        int outRows = Dims(wb, "final_layer.linear.weight", 2)[0];
        if (outRows % (p * p) != 0)
            throw new TesseraException($"DiT: final_layer.linear.weight has {outRows} rows, not a multiple of patch x patch = {p * p}");
        int labelRows = Dims(wb, "y_embedder.embedding_table.weight", 2)[0];
        // Every published DiT was trained with label dropout: the last row is the null class.
        int classes = Math.Max(1, labelRows - 1);
        int sample = 32;
        if (wb.Contains("pos_embed"))
        {
            var pos = Dims(wb, "pos_embed", -1);
            int n = pos.Length >= 2 ? pos[^2] : 0, grid = (int)Math.Round(Math.Sqrt(n));
            if (grid * grid != n || grid == 0)
                throw new TesseraException($"DiT: pos_embed [{string.Join(", ", pos)}] does not hold a square grid of positions");
            sample = grid * p;
        }
        int heads = HeadsForWidth(d);
        var config = new DitConfig(heads, d / heads, inCh, outRows / (p * p), depth, sample, p, classes, NormEps: 1e-6) { Layout = DitLayout.Original };
        config.Validate(wb.Path);
        return config;
    }

    /// <summary>Loads an original checkpoint with the sizes <paramref name="config"/> gives (normally from
    /// <see cref="Infer"/>), checking every tensor's shape.</summary>
    public static Dit Load(WeightBuilder wb, DitConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(wb.Path);
        int d = config.InnerDim, p = config.PatchSize;
        var proj = wb.Pp("x_embedder").Pp("proj");
        var pw = proj.GetAs("weight", DType.F32, d, config.InChannels, p, p);
        var pb = proj.GetAs("bias", DType.F32, d);
        Tensor? positions = null;
        if (wb.Contains("pos_embed"))
        {
            int n = (config.SampleSize / p) * (config.SampleSize / p);
            var stored = wb.GetAs("pos_embed", DType.F32, wb.Info("pos_embed").Dims.Count == 3 ? [1, n, d] : [n, d]);
            positions = wb.Own(stored.Reshape(n, d));
        }
        var shared = DitConditioning.Load(wb, config, "t_embedder", "y_embedder");
        var blocks = new DitBlock[config.NumLayers];
        for (int i = 0; i < blocks.Length; i++) blocks[i] = DitBlock.LoadOriginal(wb.Pp("blocks").Pp(i), config, shared);
        var final = AdaLayerNorm.Load(wb.Pp("final_layer"), d, d, chunks: 2, eps: 1e-6f);
        var output = Linear.Load(wb.Pp("final_layer").Pp("linear"), d, p * p * config.OutputChannels);
        return new Dit(config, wb.Commit(), pw, pb, positions, blocks, final, output);
    }

    private static int[] Dims(WeightBuilder wb, string name, int rank)
    {
        if (!wb.Contains(name)) throw new TesseraException($"DiT: {wb.Path} has no {name}");
        var dims = wb.Info(name).Dims.Select(x => (int)x).ToArray();
        if (rank >= 0 && dims.Length != rank)
            throw new TesseraException($"DiT: {name} is [{string.Join(", ", dims)}], expected {rank} dimensions");
        return dims;
    }
}
