using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>fc1 -> activation -> fc2 (ViT, CLIP, BERT, SVTR). The activation runs in fc1's epilogue and the residual,
/// when given, in fc2's.</summary>
/// <param name="Fc1">dim -> hidden.</param>
/// <param name="Fc2">hidden -> dim.</param>
/// <param name="Activation">Applied after fc1 (GELU for ViT, QuickGELU for OpenAI CLIP, SiLU for SVTR).</param>
public sealed record Mlp(Linear Fc1, Linear Fc2, Activation Activation) : IFeedForward
{
    /// <summary>Loads <paramref name="fc1"/> [hidden, dim] and <paramref name="fc2"/> [dim, hidden] under
    /// <paramref name="wb"/>'s prefix (names relative to it: "fc1"/"fc2" for CLIP and timm, "intermediate.dense" and
    /// "output.dense" for BERT-style checkpoints loaded from the layer's prefix).</summary>
    public static Mlp Load(WeightBuilder wb, int dim, int hidden, Activation activation, bool bias = true,
        string fc1 = "fc1", string fc2 = "fc2")
    {
        ArgumentNullException.ThrowIfNull(wb);
        return new Mlp(Linear.Load(wb.Pp(fc1), dim, hidden, bias), Linear.Load(wb.Pp(fc2), hidden, dim, bias), activation);
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x, Tensor? residual = null)
    {
        using var h = Fc1.Forward(x, new MatMulEpilogue(Activation: Activation));
        return Fc2.Forward(h, new MatMulEpilogue(Residual: residual));
    }
}
