namespace Tessera;

// Rotary position embedding: with tables already laid out by position, or with per-token position ids that pick
// the table rows (a KV-cache decode step, a batch of sequences at different offsets, an image patch grid).
public sealed partial class Tensor
{
    /// <summary>Rotary position embedding of x [..., S, D] with f32 cos and sin tables [S, R/2], R &lt;= D even, or
    /// tables of x's rank [..., S, R/2] whose leading axes broadcast to x's (per-sequence angles, for example
    /// [B, 1, S, R/2] for x [B, H, S, D]). Build the tables with <see cref="RopeTables"/>.</summary>
    public Tensor Rope(Tensor cos, Tensor sin, RopeMode mode = RopeMode.RotateHalf)
    {
        RequireFloat("rope");
        SameBackend("rope", cos);
        SameBackend("rope", sin);
        bool shared = cos.Rank == 2, batched = cos.Rank == Rank && Rank > 2;
        if (Rank < 2 || !(shared || batched) || !cos.Shape.Equals(sin.Shape) || cos.Shape[-2] != Shape[-2]
            || 2 * cos.Shape[-1] > Shape[-1] || cos.DType != DType.F32 || sin.DType != DType.F32)
            throw new TesseraException($"rope: x [..., S, D] = {Shape} needs f32 cos and sin [S, R/2] or [..., S, R/2] with R <= D, got {cos.DType.Name()} {cos.Shape} and {sin.DType.Name()} {sin.Shape}");
        if (shared)
        {
            var dst = NewLike(Shape);
            Backend.Rope(this, cos, sin, mode, dst);
            return dst;
        }
        var tableShape = Shape.With(-1, cos.Shape[-1]);
        Tensor c, s;
        try { c = cos.BroadcastTo(tableShape); }
        catch (TesseraException e) { throw new TesseraException($"rope: tables {cos.Shape} do not broadcast to x {Shape}: {e.Message}", e); }
        using (c)
        using (s = sin.BroadcastTo(tableShape))
        {
            var dst = NewLike(Shape);
            Backend.Rope(this, c, s, mode, dst);
            return dst;
        }
    }

    /// <summary>Rotary position embedding at explicit positions: <paramref name="cos"/> and <paramref name="sin"/>
    /// are f32 tables [P, R/2] over every position (<see cref="RopeTables.Build1D"/> with P positions, or
    /// <see cref="RopeTables.Build2D(ReadOnlySpan{int}, ReadOnlySpan{int}, int, double)"/> rows), and
    /// <paramref name="positions"/> (I32 or I64, each in [0, P)) picks the row of each token: [S] for x [..., S, D]
    /// (every sequence at the same positions), or [B, S] for x [B, ..., S, D] (each sequence at its own positions,
    /// as in batched decoding). The rows are gathered with <see cref="IndexSelect"/>.</summary>
    public Tensor Rope(Tensor cos, Tensor sin, RopeMode mode, Tensor positions)
    {
        RequireFloat("rope");
        SameBackend("rope positions", positions);
        if (cos.Rank != 2 || !cos.Shape.Equals(sin.Shape))
            throw new TesseraException($"rope with positions needs cos and sin tables [P, R/2], got {cos.Shape} and {sin.Shape}");
        bool perSequence = positions.Rank == 2;
        if (Rank < 2 || positions.Rank is not (1 or 2) || positions.DType is not (DType.I32 or DType.I64) || positions.Shape[-1] != Shape[-2] || (perSequence && (Rank < 3 || positions.Shape[0] != Shape[0])))
            throw new TesseraException($"rope: positions must be i32 or i64 [S] or [B, S] for x [B, ..., S, D] = {Shape}, got {positions.DType.Name()} {positions.Shape}");
        using var flat = positions.Reshape(-1);
        Tensor c, s;
        try { c = cos.IndexSelect(0, flat); }
        catch (TesseraException e) { throw new TesseraException($"rope: a position id does not name a row of the {cos.Shape[0]}-position tables ({e.Message})", e); }
        using (c)
        using (s = sin.IndexSelect(0, flat))
            return RopeRows(c, s, mode, perSequence, cos.Shape[1]);
    }

    // Rotates by the gathered table rows c, s [S or B * S, R/2].
    private Tensor RopeRows(Tensor c, Tensor s, RopeMode mode, bool perSequence, int half)
    {
        if (!perSequence) return Rope(c, s, mode);
        // [B * S, R/2] -> [B, 1, ..., 1, S, R/2] with x's rank, broadcast over the axes between.
        var dims = Enumerable.Repeat(1, Rank).ToArray();
        dims[0] = Shape[0];
        dims[^2] = Shape[-2];
        dims[^1] = half;
        using var cb = c.Reshape(dims);
        using var sb = s.Reshape(dims);
        return Rope(cb, sb, mode);
    }
}
