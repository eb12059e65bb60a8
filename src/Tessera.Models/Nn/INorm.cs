namespace Tessera.Models.Nn;

/// <summary>A normalisation over the last axis (LayerNorm, RmsNorm), so blocks can be built with either.</summary>
public interface INorm
{
    /// <summary>Normalises x over its last axis; returns a new tensor.</summary>
    Tensor Forward(Tensor x);
}
