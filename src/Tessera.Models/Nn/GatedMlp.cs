using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>The gated feed-forward of LLaMA, Mistral and Gemma: down(act(gate(x)) * up(x)), SwiGLU with SiLU, GeGLU
/// with GELU (Gemma: the tanh GELU). Projections without bias by default, as those checkpoints store them.</summary>
/// <param name="Gate">dim -> hidden, activated.</param>
/// <param name="Up">dim -> hidden.</param>
/// <param name="Down">hidden -> dim.</param>
/// <param name="Activation">SiLU (SwiGLU) or a GELU (GeGLU).</param>
public sealed record GatedMlp(Linear Gate, Linear Up, Linear Down, Activation Activation = Activation.Silu) : IFeedForward
{
    /// <summary>Loads "gate_proj", "up_proj" [hidden, dim] and "down_proj" [dim, hidden] (names configurable: GGUF
    /// calls them ffn_gate, ffn_up, ffn_down).</summary>
    public static GatedMlp Load(WeightBuilder wb, int dim, int hidden, Activation activation = Activation.Silu, bool bias = false,
        string gate = "gate_proj", string up = "up_proj", string down = "down_proj")
    {
        ArgumentNullException.ThrowIfNull(wb);
        return new GatedMlp(Linear.Load(wb.Pp(gate), dim, hidden, bias), Linear.Load(wb.Pp(up), dim, hidden, bias),
            Linear.Load(wb.Pp(down), hidden, dim, bias), activation);
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x, Tensor? residual = null)
    {
        // act(gate(x)) * up(x) in the gate projection's epilogue: one pass over the hidden activations.
        using var u = Up.Forward(x);
        using var h = Gate.Forward(x, new MatMulEpilogue(Activation: Activation, Multiplier: u));
        return Down.Forward(h, new MatMulEpilogue(Residual: residual));
    }
}
