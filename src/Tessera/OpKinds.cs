namespace Tessera;

/// <summary>Element-wise functions of one operand.</summary>
public enum UnaryOp
{
    /// <summary>-x</summary>
    Neg,
    /// <summary>|x|</summary>
    Abs,
    /// <summary>e^x</summary>
    Exp,
    /// <summary>ln x</summary>
    Log,
    /// <summary>sqrt x</summary>
    Sqrt,
    /// <summary>1 / sqrt x</summary>
    Rsqrt,
    /// <summary>x^2</summary>
    Square,
    /// <summary>tanh x</summary>
    Tanh,
    /// <summary>1 / (1 + e^-x)</summary>
    Sigmoid,
    /// <summary>max(x, 0)</summary>
    Relu,
    /// <summary>x * Phi(x), the exact (erf) GELU.</summary>
    Gelu,
    /// <summary>The tanh approximation of GELU (GPT-2, "gelu_pytorch_tanh").</summary>
    GeluTanh,
    /// <summary>x * sigmoid(1.702 x) (CLIP).</summary>
    QuickGelu,
    /// <summary>x * sigmoid(x), also called swish.</summary>
    Silu,
    /// <summary>x * min(max(x + 3, 0), 6) / 6 (MobileNetV3, PP-LCNet).</summary>
    HardSwish,
    /// <summary>min(max(x + 3, 0), 6) / 6, i.e. clamp(x / 6 + 1/2, 0, 1) (ONNX HardSigmoid with alpha 1/6, beta 1/2;
    /// PyTorch's hardsigmoid).</summary>
    HardSigmoid,
    /// <summary>sin x (radians). Appended last so the values above keep their numbers.</summary>
    Sin,
    /// <summary>cos x (radians).</summary>
    Cos,
}

/// <summary>Element-wise functions of two operands (NumPy broadcasting).</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a - b</summary>
    Sub,
    /// <summary>a * b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
    /// <summary>max(a, b)</summary>
    Max,
    /// <summary>min(a, b)</summary>
    Min,
}

/// <summary>Element-wise comparisons; the result is U8 holding 1 (true) or 0 (false). Any comparison with NaN is
/// false except <see cref="NotEqual"/>, as in IEEE 754, NumPy and PyTorch.</summary>
public enum CompareOp
{
    /// <summary>a == b</summary>
    Equal,
    /// <summary>a != b</summary>
    NotEqual,
    /// <summary>a &lt; b</summary>
    Less,
    /// <summary>a &lt;= b</summary>
    LessOrEqual,
    /// <summary>a &gt; b</summary>
    Greater,
    /// <summary>a &gt;= b</summary>
    GreaterOrEqual,
}

/// <summary>Reductions over one axis.</summary>
public enum ReduceOp
{
    /// <summary>Sum.</summary>
    Sum,
    /// <summary>Arithmetic mean.</summary>
    Mean,
    /// <summary>Maximum.</summary>
    Max,
    /// <summary>Minimum.</summary>
    Min,
    /// <summary>Index of the first maximum, as I32.</summary>
    ArgMax,
}

/// <summary>Activations a matmul can apply in its epilogue, before the residual is added.</summary>
public enum Activation
{
    /// <summary>No activation.</summary>
    None,
    /// <summary>Exact (erf) GELU.</summary>
    Gelu,
    /// <summary>tanh-approximated GELU.</summary>
    GeluTanh,
    /// <summary>x * sigmoid(1.702 x).</summary>
    QuickGelu,
    /// <summary>x * sigmoid(x).</summary>
    Silu,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>x * min(max(x + 3, 0), 6) / 6 (MobileNetV3, PP-LCNet).</summary>
    HardSwish,
}

/// <summary>How rotary position embedding pairs the channels of a head.</summary>
public enum RopeMode
{
    /// <summary>Channel i pairs with i + d/2 (GPT-NeoX, Hugging Face LLaMA).</summary>
    RotateHalf,
    /// <summary>Channel 2i pairs with 2i + 1 (GPT-J, the original Meta LLaMA, GGUF's "norm" mode).</summary>
    Interleaved,
}

/// <summary>What a matmul does after the product: out = act(a @ b + bias) * multiplier + residual.</summary>
/// <param name="Bias">Per-output-column bias of shape [N], or null.</param>
/// <param name="Activation">Activation applied after the bias.</param>
/// <param name="Residual">A tensor of the output's shape (may be a broadcast view) added last, or null.</param>
/// <param name="Multiplier">A tensor of the output's shape (may be a broadcast view) that multiplies the activated
/// product before the residual is added, or null: the gate of a SiLU-gated MLP, <c>x.Linear(wGate, new(Activation:
/// Activation.Silu, Multiplier: x.Linear(wUp)))</c> = silu(x Wg^T) * (x Wu^T).</param>
public sealed record MatMulEpilogue(Tensor? Bias = null, Activation Activation = Activation.None, Tensor? Residual = null,
    Tensor? Multiplier = null)
{
    /// <summary>A plain product.</summary>
    public static MatMulEpilogue None { get; } = new();
}

/// <summary>Parameters of a 2-D convolution (NCHW, weights [O, C/groups, kH, kW]). The output is
/// act(conv(x) + bias) * OutScale + OutShift: a backend may apply the activation and the scalar affine while each tile
/// of the output is still in cache, which saves the passes over memory that separate element-wise ops would make
/// (PP-LCNet's conv -> hardswish -> learnable affine).</summary>
/// <param name="StrideH">Vertical stride.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Zero rows above and below.</param>
/// <param name="PadW">Zero columns left and right.</param>
/// <param name="DilationH">Vertical dilation.</param>
/// <param name="DilationW">Horizontal dilation.</param>
/// <param name="Groups">Groups of input and output channels.</param>
/// <param name="Activation">Applied after the bias.</param>
/// <param name="OutScale">Multiplies the activated output.</param>
/// <param name="OutShift">Added last.</param>
public sealed record Conv2dParams(int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0,
    int DilationH = 1, int DilationW = 1, int Groups = 1, Activation Activation = Activation.None, float OutScale = 1f, float OutShift = 0f)
{
    /// <summary>True when the output is more than conv + bias (an activation or an affine follows).</summary>
    public bool HasEpilogue => Activation != Activation.None || OutScale != 1f || OutShift != 0f;

    /// <summary>Same stride, padding and dilation on both axes.</summary>
    public static Conv2dParams Square(int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        new(stride, stride, padding, padding, dilation, dilation, groups);

    /// <summary>Output size along one axis, or an error naming the sizes when it would be empty.</summary>
    public static int OutputSize(int input, int kernel, int stride, int pad, int dilation)
    {
        long span = (long)dilation * (kernel - 1) + 1;
        long o = (input + 2L * pad - span) / stride + 1;
        if (o <= 0 || input + 2L * pad < span)
            throw new TesseraException($"conv2d: input size {input} with padding {pad} is smaller than the dilated kernel {span}");
        return checked((int)o);
    }
}

/// <summary>How a pooling window is reduced.</summary>
public enum PoolOp
{
    /// <summary>Mean of the window.</summary>
    Avg,
    /// <summary>Maximum of the window (padding never wins).</summary>
    Max,
}

/// <summary>Parameters of 2-D pooling over NCHW (ONNX AveragePool / MaxPool without ceil mode or dilation).</summary>
/// <param name="KernelH">Window height.</param>
/// <param name="KernelW">Window width.</param>
/// <param name="StrideH">Vertical step.</param>
/// <param name="StrideW">Horizontal step.</param>
/// <param name="PadH">Rows of padding above and below.</param>
/// <param name="PadW">Columns of padding left and right.</param>
/// <param name="CountIncludePad">For averages: divide by the whole window (true) or by the taps inside the
/// image (false, ONNX's default and PaddlePaddle's exclusive=True).</param>
public sealed record Pool2dParams(int KernelH, int KernelW, int StrideH, int StrideW, int PadH = 0, int PadW = 0, bool CountIncludePad = false)
{
    /// <summary>A square window whose stride defaults to its size.</summary>
    public static Pool2dParams Square(int kernel, int? stride = null, int padding = 0) =>
        new(kernel, kernel, stride ?? kernel, stride ?? kernel, padding, padding);
}
