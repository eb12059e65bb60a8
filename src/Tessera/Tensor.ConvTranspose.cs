namespace Tessera;

/// <summary>Parameters of a transposed 2-D convolution (ONNX ConvTranspose, PyTorch's conv_transpose2d) over NCHW.</summary>
/// <param name="StrideH">Vertical stride: the input's row step in the output.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Rows cropped from the top and the bottom of the full output.</param>
/// <param name="PadW">Columns cropped from the left and the right.</param>
/// <param name="OutputPadH">Extra rows at the bottom (to pick one of the sizes a strided conv maps onto the same input size).</param>
/// <param name="OutputPadW">Extra columns at the right.</param>
/// <param name="DilationH">Vertical spacing of the kernel taps.</param>
/// <param name="DilationW">Horizontal spacing of the kernel taps.</param>
/// <param name="Groups">Channel groups: input and output channels split into this many independent parts.</param>
public sealed record ConvTranspose2dParams(int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0,
    int OutputPadH = 0, int OutputPadW = 0, int DilationH = 1, int DilationW = 1, int Groups = 1)
{
    /// <summary>Same stride, padding and dilation on both axes.</summary>
    public static ConvTranspose2dParams Square(int stride = 1, int padding = 0, int outputPadding = 0, int dilation = 1, int groups = 1) =>
        new(stride, stride, padding, padding, outputPadding, outputPadding, dilation, dilation, groups);

    /// <summary>Output size along one axis: (in - 1) stride - 2 pad + dilation (kernel - 1) + outputPad + 1, or an
    /// error naming the sizes when it would be empty.</summary>
    public static int OutputSize(int input, int kernel, int stride, int pad, int outputPad, int dilation)
    {
        long o = (long)(input - 1) * stride - 2L * pad + (long)dilation * (kernel - 1) + outputPad + 1;
        if (o <= 0) throw new TesseraException($"conv_transpose2d: input size {input}, kernel {kernel}, stride {stride}, padding {pad} give an empty output");
        return checked((int)o);
    }
}

// The transposed-convolution front end: the adjoint of Conv2d, as decoders and segmentation heads (PP-OCR's DB
// head) use it to upsample. Weight layout follows ONNX and PyTorch: [C_in, C_out / groups, kH, kW].
public sealed partial class Tensor
{
    /// <summary>Transposed 2-D convolution of x [B, C, H, W] with weight [C, O/groups, kH, kW] and optional bias [O]:
    /// every input pixel scatters its kernel-weighted copy into the output at (iy * strideH - padH + ky * dilationH,
    /// ix * strideW - padW + kx * dilationW). Output [B, O, OH, OW] with OH from <see cref="ConvTranspose2dParams.OutputSize"/>.</summary>
    public Tensor ConvTranspose2d(Tensor weight, Tensor? bias = null, ConvTranspose2dParams? p = null)
    {
        RequireFloat("conv_transpose2d");
        SameBackend("conv_transpose2d", weight);
        p ??= new ConvTranspose2dParams();
        if (Rank != 4 || weight.Rank != 4)
            throw new TesseraException($"conv_transpose2d needs x [B, C, H, W] and weight [C, O/groups, kH, kW], got {Shape} and {weight.Shape}");
        int c = Shape[1];
        if (p.Groups <= 0 || weight.Shape[0] != c || c % p.Groups != 0)
            throw new TesseraException($"conv_transpose2d: x {Shape} and weight {weight.Shape} do not fit groups={p.Groups} (weight must be [C, O/groups, kH, kW])");
        if (p.StrideH <= 0 || p.StrideW <= 0 || p.DilationH <= 0 || p.DilationW <= 0 || p.PadH < 0 || p.PadW < 0
            || p.OutputPadH < 0 || p.OutputPadW < 0 || p.OutputPadH >= Math.Max(p.StrideH, p.DilationH) || p.OutputPadW >= Math.Max(p.StrideW, p.DilationW))
            throw new TesseraException($"conv_transpose2d: invalid parameters {p} (output padding must be below the stride or the dilation)");
        if (weight.DType != DType) throw new TesseraException($"conv_transpose2d: x is {DType.Name()}, weight is {weight.DType.Name()}");
        int o = weight.Shape[1] * p.Groups;
        CheckVector("conv_transpose2d bias", bias, o);
        int oh, ow;
        try
        {
            oh = ConvTranspose2dParams.OutputSize(Shape[2], weight.Shape[2], p.StrideH, p.PadH, p.OutputPadH, p.DilationH);
            ow = ConvTranspose2dParams.OutputSize(Shape[3], weight.Shape[3], p.StrideW, p.PadW, p.OutputPadW, p.DilationW);
        }
        catch (TesseraException e) { throw new TesseraException($"conv_transpose2d of x {Shape} with weight {weight.Shape}: {e.Message}", e); }
        var dst = NewLike(new Shape(Shape[0], o, oh, ow));
        Backend.ConvTranspose2d(this, weight, bias, p, dst);
        return dst;
    }
}
