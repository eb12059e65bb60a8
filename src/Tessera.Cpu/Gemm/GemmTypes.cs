namespace Tessera.Cpu.Gemm;

/// <summary>One GEMM operand: a strided matrix of f32, f16 or bf16 elements.</summary>
internal readonly unsafe struct GemmOperand(void* ptr, DType type, long rowStride, long colStride)
{
    public readonly void* Ptr = ptr;
    public readonly DType Type = type;
    public readonly long RowStride = rowStride;
    public readonly long ColStride = colStride;
}

/// <summary>What happens to each output element after the dot product:
/// c = (act(acc + bias[j]) * scale + shift) * multiplier[i, j] + residual[i, j], or bias[i] when <c>biasPerRow</c>
/// (a convolution's output channels are GEMM rows). Null pointers mean "none". The multiplier is the gate of a
/// SiLU-gated MLP (silu(x Wg^T) * (x Wu^T)).</summary>
internal readonly unsafe struct GemmEpilogue(float* bias, Activation activation, float* residual, long residualRowStride, long residualColStride,
    bool biasPerRow = false, float scale = 1f, float shift = 0f, float* multiplier = null, long multiplierRowStride = 0, long multiplierColStride = 0)
{
    public readonly float* Bias = bias;
    public readonly bool BiasPerRow = biasPerRow;
    public readonly float Scale = scale;
    public readonly float Shift = shift;
    public readonly Activation Activation = activation;
    public readonly float* Residual = residual;
    public readonly long ResidualRowStride = residualRowStride;
    public readonly long ResidualColStride = residualColStride;
    public readonly float* Multiplier = multiplier;
    public readonly long MultiplierRowStride = multiplierRowStride;
    public readonly long MultiplierColStride = multiplierColStride;

    public static GemmEpilogue None => new(null, Activation.None, null, 0, 0);
}
