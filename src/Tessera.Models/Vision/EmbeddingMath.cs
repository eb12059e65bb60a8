namespace Tessera.Models.Vision;

/// <summary>The small vector operations of contrastive models, on the engine's ops (so they run on any backend).</summary>
public static class EmbeddingMath
{
    /// <summary>Each row of x [B, D] divided by its L2 norm (a zero row stays zero).</summary>
    public static Tensor L2Normalize(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 2) throw new TesseraException($"l2 normalize: expected [B, D], got {x.Shape}");
        using var sq = x.Map(UnaryOp.Square);
        using var sum = sq.Sum(1, keepDim: true);
        using var floor = sum.Affine(1, 1e-24);               // F.normalize's eps (1e-12) on the norm, squared
        using var inv = floor.Map(UnaryOp.Rsqrt);
        return x * inv;
    }

    /// <summary>Every vector along the last axis of x [..., D] divided by its L2 norm (F.normalize(x, dim=-1)).</summary>
    public static Tensor L2NormalizeRows(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 2) throw new TesseraException($"l2 normalize: expected [..., D] with at least 2 axes, got {x.Shape}");
        using var flat = x.Reshape(-1, x.Dim(-1));
        using var normed = L2Normalize(flat);
        return normed.Reshape(x.Shape.Dims.ToArray());
    }

    /// <summary>scale * a b^T + bias: [Ba, D] x [Bb, D] -> [Ba, Bb] (cosines when both are normalised).</summary>
    public static Tensor ScaledSimilarity(Tensor a, Tensor b, double scale, double bias = 0)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rank != 2 || b.Rank != 2 || a.Dim(1) != b.Dim(1))
            throw new TesseraException($"similarity: expected [Ba, D] and [Bb, D], got {a.Shape} and {b.Shape}");
        using var bt = b.Transpose(0, 1);
        using var dots = a.MatMul(bt);
        return dots.Affine(scale, bias);
    }
}
