using Tessera.Formats;
using Tessera.Formats.Configs;

namespace Tessera.Models.Nn;

/// <summary>Rotary position embedding tables (cos and sin [MaxPositions, RotaryDim/2], f32) and their application to
/// queries and keys by position id. One instance is shared by every layer of a model.</summary>
public sealed class RotaryEmbedding
{
    /// <summary>cos of every position's angles [MaxPositions, RotaryDim/2].</summary>
    public Tensor Cos { get; }

    /// <summary>sin of every position's angles [MaxPositions, RotaryDim/2].</summary>
    public Tensor Sin { get; }

    /// <summary>How channels are paired.</summary>
    public RopeMode Mode { get; }

    /// <summary>Channels rotated (the rest of a head passes through).</summary>
    public int RotaryDim => 2 * Cos.Dim(1);

    /// <summary>Positions the tables cover.</summary>
    public int MaxPositions => Cos.Dim(0);

    /// <summary>Rotary tables over tensors the caller owns.</summary>
    public RotaryEmbedding(Tensor cos, Tensor sin, RopeMode mode = RopeMode.RotateHalf)
    {
        ArgumentNullException.ThrowIfNull(cos);
        ArgumentNullException.ThrowIfNull(sin);
        if (cos.Rank != 2 || !cos.Shape.Equals(sin.Shape) || cos.DType != DType.F32 || sin.DType != DType.F32)
            throw new TesseraException($"rotary embedding: cos and sin must be f32 [positions, rotaryDim/2], got {cos.DType.Name()} {cos.Shape} and {sin.DType.Name()} {sin.Shape}");
        (Cos, Sin, Mode) = (cos, sin, mode);
    }

    /// <summary>Builds the 1-D tables (angle = p * theta^(-2i/rotaryDim), as LLaMA's) and registers them with the
    /// builder's set, so they live and die with the model's weights.</summary>
    public static RotaryEmbedding Create(WeightBuilder wb, int rotaryDim, int maxPositions, double theta = 10000, RopeMode mode = RopeMode.RotateHalf)
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (maxPositions <= 0) throw new TesseraException($"rotary embedding: max positions must be positive, got {maxPositions}");
        var (cos, sin) = RopeTables.Build1D(maxPositions, rotaryDim, theta);
        return new RotaryEmbedding(wb.Upload(cos, maxPositions, rotaryDim / 2), wb.Upload(sin, maxPositions, rotaryDim / 2), mode);
    }

    /// <summary>1-D tables at explicit inverse frequencies (angle = p * invFreq[i], one per rotated pair): for scaled
    /// RoPE (linear, Llama 3), registered with the builder's set.</summary>
    public static RotaryEmbedding FromInverseFrequencies(WeightBuilder wb, ReadOnlySpan<double> invFreq, int maxPositions, RopeMode mode = RopeMode.RotateHalf)
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (maxPositions <= 0) throw new TesseraException($"rotary embedding: max positions must be positive, got {maxPositions}");
        if (invFreq.Length == 0) throw new TesseraException("rotary embedding: no frequencies given");
        int half = invFreq.Length;
        var cos = new float[(long)maxPositions * half];
        var sin = new float[cos.Length];
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                double a = p * invFreq[i];
                cos[p * half + i] = (float)Math.Cos(a);
                sin[p * half + i] = (float)Math.Sin(a);
            }
        return new RotaryEmbedding(wb.Upload(cos, maxPositions, half), wb.Upload(sin, maxPositions, half), mode);
    }

    /// <summary>A LLaMA-family decoder's tables: the config's theta and <c>rope_scaling</c> (none, linear, llama3; see
    /// <see cref="LlamaRopeFrequencies"/>), and, in a GGUF file, llama.cpp's per-pair divisors <c>rope_freqs.weight</c>
    /// (how its converter stores Llama 3 scaling; rotaryDim/2 values).</summary>
    public static RotaryEmbedding ForDecoder(WeightBuilder wb, LlamaConfig config, int rotaryDim, int maxPositions, RopeMode mode)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        const string Divisors = "rope_freqs.weight";
        bool hasDivisors = wb.Contains(Divisors);
        if (config.RopeScaling is null && !hasDivisors) return Create(wb, rotaryDim, maxPositions, config.RopeTheta, mode);
        var freqs = LlamaRopeFrequencies.Compute(config, rotaryDim);
        if (hasDivisors)
        {
            var div = wb.GetHost(Divisors, rotaryDim / 2);
            for (int i = 0; i < freqs.Length; i++)
            {
                if (!(div[i] > 0) || !float.IsFinite(div[i]))
                    throw new WeightFormatException(wb.Path, Divisors, $"value {i} is {div[i]}; RoPE frequency divisors must be positive");
                freqs[i] /= div[i];
            }
        }
        return FromInverseFrequencies(wb, freqs, maxPositions, mode);
    }

    /// <summary>2-D tables for image patches at (rowIds[i], colIds[i]) (<see cref="RopeTables.Build2D(ReadOnlySpan{int},
    /// ReadOnlySpan{int}, int, double)"/>: the first half of the pairs turn with the row, the second with the column),
    /// registered with the builder's set. Table row i belongs to patch i: apply with no positions to a sequence of those
    /// patches in that order. <see cref="Grid(WeightBuilder, int, int, int, double, RopeMode)"/> gives a whole grid in row-major order.</summary>
    public static RotaryEmbedding Create2D(WeightBuilder wb, ReadOnlySpan<int> rowIds, ReadOnlySpan<int> colIds, int rotaryDim,
        double theta = 10000, RopeMode mode = RopeMode.RotateHalf)
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (rowIds.Length == 0) throw new TesseraException("2-D rotary embedding: no patch positions given");
        var (cos, sin) = RopeTables.Build2D(rowIds, colIds, rotaryDim, theta);
        return new RotaryEmbedding(wb.Upload(cos, rowIds.Length, rotaryDim / 2), wb.Upload(sin, rowIds.Length, rotaryDim / 2), mode);
    }

    /// <summary>2-D tables for a rows x cols patch grid in row-major order (see <see cref="Create2D(WeightBuilder, ReadOnlySpan{int}, ReadOnlySpan{int}, int, double, RopeMode)"/>).</summary>
    public static RotaryEmbedding Grid(WeightBuilder wb, int rows, int cols, int rotaryDim, double theta = 10000, RopeMode mode = RopeMode.RotateHalf)
    {
        if (rows <= 0 || cols <= 0) throw new TesseraException($"2-D rotary embedding: grid {rows}x{cols} must be positive");
        var r = new int[rows * cols];
        var c = new int[rows * cols];
        for (int i = 0; i < r.Length; i++) (r[i], c[i]) = (i / cols, i % cols);
        return Create2D(wb, r, c, rotaryDim, theta, mode);
    }

    /// <summary>2-D tables for image patches at (rowIds[i], colIds[i]) in a published layout (<see cref="GridRopeLayout"/>):
    /// Qwen2-VL's (the same as <see cref="Create2D(WeightBuilder, ReadOnlySpan{int}, ReadOnlySpan{int}, int, double, RopeMode)"/>)
    /// or Pixtral's (rows on the even frequencies, columns on the odd). Table row i belongs to patch i.</summary>
    public static RotaryEmbedding Create2D(WeightBuilder wb, ReadOnlySpan<int> rowIds, ReadOnlySpan<int> colIds, int rotaryDim,
        GridRopeLayout layout, double theta = 10000, RopeMode mode = RopeMode.RotateHalf)
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (layout == GridRopeLayout.RowsThenColumns) return Create2D(wb, rowIds, colIds, rotaryDim, theta, mode);
        if (layout != GridRopeLayout.AlternatingFrequencies) throw new TesseraException($"2-D rotary embedding: unknown layout {(int)layout}");
        if (rowIds.Length == 0) throw new TesseraException("2-D rotary embedding: no patch positions given");
        if (rowIds.Length != colIds.Length)
            throw new TesseraException($"2-D rotary embedding: {rowIds.Length} row ids but {colIds.Length} column ids");
        if (rotaryDim <= 0 || rotaryDim % 4 != 0)
            throw new TesseraException($"2-D rotary embedding: the rotary width must be a positive multiple of 4 (a row and a column half of pairs), got {rotaryDim}");
        int half = rotaryDim / 2, quarter = rotaryDim / 4, n = rowIds.Length;
        var cos = new float[(long)n * half];
        var sin = new float[cos.Length];
        for (int p = 0; p < n; p++)
        {
            if (rowIds[p] < 0 || colIds[p] < 0)
                throw new TesseraException($"2-D rotary embedding: patch {p} is at ({rowIds[p]}, {colIds[p]}); positions must be non-negative");
            for (int i = 0; i < half; i++)
            {
                // Pixtral: freqs_j = theta^(-2j / D) for j < D/2; the row takes j = 0, 2, 4, ..., the column j = 1, 3, 5, ...
                int j = i < quarter ? 2 * i : 2 * (i - quarter) + 1;
                double a = (i < quarter ? rowIds[p] : colIds[p]) * Math.Pow(theta, -2.0 * j / rotaryDim);
                cos[(long)p * half + i] = (float)Math.Cos(a);
                sin[(long)p * half + i] = (float)Math.Sin(a);
            }
        }
        return new RotaryEmbedding(wb.Upload(cos, n, half), wb.Upload(sin, n, half), mode);
    }

    /// <summary>2-D tables for a rows x cols patch grid in row-major order in a published layout.</summary>
    public static RotaryEmbedding Grid(WeightBuilder wb, int rows, int cols, int rotaryDim, GridRopeLayout layout, double theta = 10000,
        RopeMode mode = RopeMode.RotateHalf)
    {
        if (rows <= 0 || cols <= 0) throw new TesseraException($"2-D rotary embedding: grid {rows}x{cols} must be positive");
        var r = new int[rows * cols];
        var c = new int[rows * cols];
        for (int i = 0; i < r.Length; i++) (r[i], c[i]) = (i / cols, i % cols);
        return Create2D(wb, r, c, rotaryDim, layout, theta, mode);
    }

    /// <summary>Rotates x [B, H, S, D] (any strided view). <paramref name="positions"/> i32/i64 [S] or [B, S] picks
    /// each token's table row; null means positions start .. start + S - 1.</summary>
    public Tensor Apply(Tensor x, Tensor? positions = null, int start = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4 || x.Dim(3) < RotaryDim)
            throw new TesseraException($"rotary embedding: x must be [B, H, S, D] with D >= {RotaryDim}, got {x.Shape}");
        int b = x.Dim(0), s = x.Dim(2);
        if (positions is null)
        {
            if (start < 0 || start + s > MaxPositions)
                throw new TesseraException($"rotary embedding: positions {start}..{start + s - 1} are outside the table's {MaxPositions}");
            using var c = Cos.Narrow(0, start, s);
            using var sn = Sin.Narrow(0, start, s);
            return x.Rope(c, sn, Mode);
        }
        if (positions.Rank == 1 && positions.Dim(0) == s || positions.Rank == 2 && positions.Dim(0) == b && positions.Dim(1) == s)
            return x.Rope(Cos, Sin, Mode, positions); // rows gathered by position; an id outside the table is named
        throw new TesseraException($"rotary embedding: positions must be [S] or [B, S] = [{s}] or [{b}, {s}] for x {x.Shape}, got {positions.DType.Name()} {positions.Shape}");
    }
}

/// <summary>How a 2-D rotary embedding shares a head's rotated channel pairs between a patch's row and column (both with
/// rotate-half pairing; D is the rotary width).</summary>
public enum GridRopeLayout
{
    /// <summary>Qwen2-VL's vision tower (and EVA-02): the first D/4 pairs turn with the row, the next D/4 with the column,
    /// both at theta^(-4k/D), k = 0 .. D/4 - 1.</summary>
    RowsThenColumns,

    /// <summary>Pixtral's vision encoder: frequencies theta^(-2j/D), j = 0 .. D/2 - 1; the first D/4 pairs turn with the
    /// row at the even j, the next D/4 with the column at the odd j.</summary>
    AlternatingFrequencies,
}
