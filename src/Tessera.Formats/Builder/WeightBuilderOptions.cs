namespace Tessera.Formats;

/// <summary>How a <see cref="WeightBuilder"/> finds and converts tensors.</summary>
/// <param name="FloatDType">Convert stored float weights (f32, f16, bf16) to this dtype; null keeps the stored dtype
/// (zero-copy on the CPU).</param>
/// <param name="DequantizeBlocks">Dequantize block-quantized weights (Q8_0, Q4_0, Q4_K, ...) with ggml's reference
/// dequantizers, to <paramref name="FloatDType"/> when set and f32 otherwise, instead of keeping them for the quantized
/// matmul.</param>
/// <param name="Renames">Name rules tried when a name is not stored as asked.</param>
public sealed record WeightBuilderOptions(DType? FloatDType = null, bool DequantizeBlocks = false, WeightRenames? Renames = null)
{
    /// <summary>Stored dtypes, zero-copy, with the common checkpoint prefixes ("model.", "module.") tolerated.</summary>
    public static WeightBuilderOptions Default { get; } = new();

    /// <summary>The rename rules in force (the default rules when none were given).</summary>
    public WeightRenames Renames { get; init; } = Renames ?? WeightRenames.CommonPrefixes;

    /// <summary>The dtype a stored tensor is converted to, or null to keep it.</summary>
    public DType? TargetFor(DType stored) =>
        stored.IsFloat() ? (FloatDType is { } f && f != stored ? f : null)
        : stored.IsBlock() && DequantizeBlocks ? FloatDType ?? DType.F32
        : null;
}
