using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>DiT's conditioning c = timestep embedding + label embedding. The original checkpoints hold one
/// (t_embedder.mlp.{0,2}, y_embedder.embedding_table) shared by every block; diffusers stores a copy in each block
/// (norm1.emb.timestep_embedder.linear_{1,2}, norm1.emb.class_embedder.embedding_table).</summary>
/// <param name="Timestep">256 sinusoidal frequencies (cos first) -> linear -> SiLU -> linear.</param>
/// <param name="Labels">The label table [classes (+ 1 null class), D], f32.</param>
public sealed record DitConditioning(TimestepEmbedding Timestep, Embedding Labels)
{
    /// <summary>The timestep features of every DiT: 256 frequencies.</summary>
    public const int FrequencyDim = 256;

    /// <summary>Loads the embedders under <paramref name="wb"/>'s prefix, checking the label table against
    /// <paramref name="config"/>: diffusers' names with its frequency shift 1, or the original names (mlp.0, mlp.2)
    /// with the original's shift 0 (diffusers' port changed it: the two layouts differ there).</summary>
    public static DitConditioning Load(WeightBuilder wb, DitConfig config, string timestep, string labels)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.InnerDim;
        bool original = config.Layout == DitLayout.Original;
        var t = TimestepEmbedding.Load(wb.Pp(timestep), FrequencyDim, d, flipSinToCos: true, downscaleFreqShift: original ? 0 : 1,
            linear1: original ? "mlp.0" : "linear_1", linear2: original ? "mlp.2" : "linear_2");
        return new DitConditioning(t, LoadLabels(wb.Pp(labels), config));
    }

    // The table has num_classes rows, plus the null class's row when trained with label dropout (every DiT checkpoint).
    private static Embedding LoadLabels(WeightBuilder wb, DitConfig config)
    {
        const string name = "embedding_table.weight";
        var dims = wb.Info(name).Dims;
        int rows = dims.Count == 2 ? (int)dims[0] : -1;
        if (rows != config.NumEmbedsAdaNorm && rows != config.NumEmbedsAdaNorm + 1)
            throw new TesseraException($"{wb.FullName(name)}: [{string.Join(", ", dims)}] should have num_embeds_ada_norm {config.NumEmbedsAdaNorm} (+ 1 null class) rows of {config.InnerDim}");
        return new Embedding(wb.GetAs(name, DType.F32, rows, config.InnerDim));
    }

    /// <summary>c [B, D] for timesteps [B] (f32) and one class id per sample.</summary>
    public Tensor Forward(Tensor timesteps, ReadOnlySpan<int> classLabels)
    {
        using var t = Timestep.Forward(timesteps);
        using var y = Labels.Forward(classLabels);
        return t + y;
    }
}
