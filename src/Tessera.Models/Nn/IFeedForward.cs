namespace Tessera.Models.Nn;

/// <summary>A position-wise feed-forward network (Mlp, GatedMlp), so blocks can be built with either.</summary>
public interface IFeedForward
{
    /// <summary>The network applied to x [..., dim]; <paramref name="residual"/>, when given, is added in the last
    /// projection's epilogue (no separate pass).</summary>
    Tensor Forward(Tensor x, Tensor? residual = null);
}
