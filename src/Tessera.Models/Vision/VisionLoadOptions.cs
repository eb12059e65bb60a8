using Tessera.Quant;

namespace Tessera.Models.Vision;

/// <summary>How the vision and image-text models (ViT, DeiT, CLIP, SigLIP) are loaded.</summary>
/// <param name="QuantizeLinears">Quantize every linear layer's weight to this GGUF block type at load (Q8_0: ggml's int8
/// blocks of 32 with an f16 scale; Q4_0 and the other types <see cref="BlockQuant"/> writes work the same way), so that
/// the linears run through the quantized matmul, which quantizes the activations to Q8_0 as ggml does. Embedding
/// tables, norms, biases, convolutions and weights whose input width is not a whole number of blocks stay as stored.
/// Null (the default) keeps the stored dtypes.</param>
public sealed record VisionLoadOptions(DType? QuantizeLinears = null)
{
    /// <summary>Stored dtypes, nothing quantized.</summary>
    public static VisionLoadOptions Default { get; } = new();

    /// <summary>The options for a command-line <c>--quantize</c> value: null or "none" keeps the stored dtypes, a block
    /// type name ("q8_0", "q4_0") quantizes the linears to it; anything else is an error naming the choices.</summary>
    public static VisionLoadOptions FromQuantizeFlag(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Equals("none", StringComparison.OrdinalIgnoreCase)) return Default;
        DType t;
        try { t = DTypeInfo.Parse(value); }
        catch (TesseraException) { t = DType.F32; }
        if (!t.IsBlock() || !BlockQuant.CanQuantize(t) || t == DType.Q8_K)
            throw new TesseraException($"--quantize must be q8_0, q4_0, q4_1, q4_k, q6_k or none, not '{value}'");
        return new VisionLoadOptions(t);
    }
}
