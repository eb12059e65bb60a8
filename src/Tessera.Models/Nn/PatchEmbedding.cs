using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>A vision transformer's input: a conv with kernel = stride = patch (the engine's PatchEmbed) turning
/// [B, C, H, W] into [B, N, D] patches in row-major order, an optional class token in front, and learned position
/// embeddings, interpolated bicubically to any other grid as Hugging Face's <c>interpolate_pos_encoding</c> does
/// (the patch rows resized with align_corners=False to the new grid; the class token's row kept).</summary>
public sealed class PatchEmbedding
{
    /// <summary>The shape and names.</summary>
    public PatchEmbeddingConfig Config { get; }

    /// <summary>The projection [D, C, P, P].</summary>
    public Tensor Weight { get; }

    /// <summary>The projection's bias [D], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>The class token [1, 1, D], or null.</summary>
    public Tensor? ClassToken { get; }

    /// <summary>The position table [(1 +) GridRows * GridCols, D] (f32), or null.</summary>
    public Tensor? Positions { get; }

    /// <summary>A patch embedding over tensors the caller owns (shapes as the properties say).</summary>
    public PatchEmbedding(PatchEmbeddingConfig config, Tensor weight, Tensor? bias, Tensor? classToken, Tensor? positions)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weight);
        int d = config.Dim, n = config.GridRows * config.GridCols + (config.ClassToken ? 1 : 0);
        if (!weight.Shape.Equals(new Shape(d, config.Channels, config.Patch, config.Patch)))
            throw new TesseraException($"patch embedding: weight {weight.Shape} should be [{d}, {config.Channels}, {config.Patch}, {config.Patch}]");
        if (config.ClassToken != (classToken is not null) || classToken is not null && !classToken.Shape.Equals(new Shape(1, 1, d)))
            throw new TesseraException($"patch embedding: class token {classToken?.Shape.ToString() ?? "absent"} does not fit the config (class token {config.ClassToken}, dim {d})");
        if (config.Positions != (positions is not null) || positions is not null && !positions.Shape.Equals(new Shape(n, d)))
            throw new TesseraException($"patch embedding: positions {positions?.Shape.ToString() ?? "absent"} should be [{n}, {d}] ({config.GridRows}x{config.GridCols} grid{(config.ClassToken ? " + class token" : "")})");
        (Config, Weight, Bias, ClassToken, Positions) = (config, weight, bias, classToken, positions);
    }

    /// <summary>Loads the projection, class token and position table by the config's names; the class token may be
    /// stored [D] or [1, 1, D], the position table [N, D] or [1, N, D].</summary>
    public static PatchEmbedding Load(WeightBuilder wb, PatchEmbeddingConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.Dim, n = config.GridRows * config.GridCols + (config.ClassToken ? 1 : 0);
        var proj = wb.Pp(config.ProjectionName);
        // The conv, class token and positions are small and meet f32 pixels: kept in f32 whatever the stored dtype.
        var w = proj.GetAs("weight", DType.F32, d, config.Channels, config.Patch, config.Patch);
        var b = config.ProjectionBias ? proj.GetAs("bias", DType.F32, d) : null;
        Tensor? cls = null, pos = null;
        if (config.ClassToken)
        {
            var c = wb.GetAs(config.ClassTokenName, DType.F32, wb.Info(config.ClassTokenName).Dims.Count == 1 ? [d] : [1, 1, d]);
            cls = wb.Own(c.Reshape(1, 1, d));
        }
        if (config.Positions)
        {
            var p = wb.GetAs(config.PositionName, DType.F32, wb.Info(config.PositionName).Dims.Count == 2 ? [n, d] : [1, n, d]);
            pos = wb.Own(p.Reshape(n, d));
        }
        return new PatchEmbedding(config, w, b, cls, pos);
    }

    /// <summary>Embeds pixels [B, C, H, W] (H and W multiples of the patch) into [B, (1 +) (H/P)(W/P), D], positions
    /// interpolated when the grid differs from the trained one.</summary>
    public Tensor Forward(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        var cfg = Config;
        if (pixels.Rank != 4 || pixels.Dim(1) != cfg.Channels || pixels.Dim(2) % cfg.Patch != 0 || pixels.Dim(3) % cfg.Patch != 0)
            throw new TesseraException($"patch embedding: pixels must be [B, {cfg.Channels}, H, W] with H and W multiples of {cfg.Patch}, got {pixels.Shape}");
        int b = pixels.Dim(0), rows = pixels.Dim(2) / cfg.Patch, cols = pixels.Dim(3) / cfg.Patch;
        var x = pixels.PatchEmbed(Weight, Bias);                                   // [B, N, D]
        if (ClassToken is not null)
        {
            using var patches = x;
            using var cls = ClassToken.BroadcastTo(new Shape(b, 1, cfg.Dim));
            x = Tensor.Concat(1, cls, patches);
        }
        if (Positions is null) return x;
        using (x)
        using (var pos = PositionsFor(rows, cols))
            return x + pos;
    }

    /// <summary>The position table for a rows x cols grid [(1 +) rows * cols, D]: the stored one, or its patch rows
    /// resized bicubically (align_corners=False) with the class row kept in front.</summary>
    public Tensor PositionsFor(int rows, int cols)
    {
        var cfg = Config;
        if (Positions is null) throw new TesseraException("patch embedding: this layer has no position embeddings");
        if (rows == cfg.GridRows && cols == cfg.GridCols) return Positions.Share();
        int first = cfg.ClassToken ? 1 : 0, d = cfg.Dim;
        using var patchRows = Positions.Narrow(0, first, cfg.GridRows * cfg.GridCols);
        using var grid = patchRows.Reshape(1, cfg.GridRows, cfg.GridCols, d);
        using var chw = grid.Permute(0, 3, 1, 2);                                   // [1, D, r, c]
        using var dense = chw.Contiguous();
        using var resized = dense.InterpolateBicubic(rows, cols);                  // [1, D, rows, cols]
        using var hwc = resized.Permute(0, 2, 3, 1);
        using var flat = hwc.Reshape(rows * cols, d);
        if (first == 0) return flat.Share();
        using var cls = Positions.Narrow(0, 0, 1);
        return Tensor.Concat(0, cls, flat);
    }
}
