using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>How a linear layer's weight is stored.</summary>
public enum LinearLayout
{
    /// <summary>[out, in], as PyTorch, Hugging Face and GGUF store it (y = x W^T).</summary>
    OutIn,
    /// <summary>[in, out], as PaddlePaddle stores it (y = x W).</summary>
    InOut,
}

/// <summary>y = x W^T + b (PyTorch's nn.Linear). The weight keeps its stored dtype: f32, bf16 and f16 go through the
/// matmul (f32 activations against bf16/f16 weights), GGUF block-quantized weights (Q8_0, Q4_0, Q4_K, ...) through the
/// quantized matmul, both via <see cref="Tensor.Linear"/>. The bias is kept in f32 (it is small, and every epilogue
/// reads f32).</summary>
public sealed class Linear
{
    /// <summary>The weight, [out, in] (or [in, out] for <see cref="LinearLayout.InOut"/>).</summary>
    public Tensor Weight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>How <see cref="Weight"/> is laid out.</summary>
    public LinearLayout Layout { get; }

    /// <summary>Input features.</summary>
    public int InFeatures => Weight.Dim(Layout == LinearLayout.OutIn ? 1 : 0);

    /// <summary>Output features.</summary>
    public int OutFeatures => Weight.Dim(Layout == LinearLayout.OutIn ? 0 : 1);

    /// <summary>A linear layer over tensors the caller owns (for example from a <see cref="WeightBuilder"/>).</summary>
    public Linear(Tensor weight, Tensor? bias = null, LinearLayout layout = LinearLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2) throw new TesseraException($"linear: the weight must be 2-D, got {weight.DType.Name()} {weight.Shape}");
        if (layout == LinearLayout.InOut && !weight.DType.IsFloat())
            throw new TesseraException($"linear: an [in, out] weight must be float, got {weight.DType.Name()} {weight.Shape} (quantized weights are stored [out, in])");
        Weight = weight;
        Layout = layout;
        int outF = OutFeatures;
        if (bias is not null && (bias.Rank != 1 || bias.Dim(0) != outF))
            throw new TesseraException($"linear: the bias must be [{outF}] for weight {weight.Shape}, got {bias.Shape}");
        Bias = bias;
    }

    /// <summary>Loads "weight" [out, in] and, when <paramref name="bias"/>, "bias" [out] under <paramref name="wb"/>'s
    /// prefix; shapes are checked and a mismatch names the tensor and both shapes.</summary>
    public static Linear Load(WeightBuilder wb, int inFeatures, int outFeatures, bool bias = true) =>
        Load(wb, inFeatures, outFeatures, bias, "weight", "bias", LinearLayout.OutIn);

    /// <summary>Loads a linear layer whose tensors have other leaf names (nn.MultiheadAttention's "in_proj_weight" and
    /// "in_proj_bias"; PaddlePaddle's "w_0" and "b_0") or another layout; a null <paramref name="biasName"/> or a false
    /// <paramref name="bias"/> loads none.</summary>
    public static Linear Load(WeightBuilder wb, int inFeatures, int outFeatures, bool bias, string weightName, string? biasName,
        LinearLayout layout = LinearLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(wb);
        var w = layout == LinearLayout.OutIn ? wb.Get(weightName, outFeatures, inFeatures) : wb.Get(weightName, inFeatures, outFeatures);
        var b = bias && biasName is not null ? wb.GetAs(biasName, DType.F32, outFeatures) : null;
        return new Linear(w, b, layout);
    }

    /// <summary>y = epilogue(x W^T + b): the layer's bias is added first, then the epilogue's activation, multiplier and residual
    /// (the epilogue may not bring a bias of its own when the layer has one).</summary>
    public Tensor Forward(Tensor x, MatMulEpilogue? epilogue = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        epilogue ??= MatMulEpilogue.None;
        if (Bias is not null)
        {
            if (epilogue.Bias is not null)
                throw new TesseraException($"linear {Weight.Shape}: the layer has a bias, the epilogue may not bring another");
            epilogue = epilogue with { Bias = Bias };
        }
        if (x.Rank < 1 || x.Dim(-1) != InFeatures)
            throw new TesseraException($"linear {InFeatures} -> {OutFeatures}: input {x.Shape} must end in {InFeatures} features (weight {Weight.DType.Name()} {Weight.Shape})");
        return Layout == LinearLayout.OutIn ? x.Linear(Weight, epilogue) : x.MatMul(Weight, epilogue);
    }
}
