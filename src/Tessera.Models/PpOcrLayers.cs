using Tessera.Formats;

namespace Tessera.Models;

// Layers shared by PP-OCR's detector and direction classifier, with every normalisation folded into the conv it
// follows when the weights load (on the host, in double), so what runs is conv (+ bias) and an activation.

/// <summary>A conv with folded normalisation: weight [O, C/groups, kH, kW], bias [O]; padding (k - 1) / 2 keeps the
/// size at stride 1, as every conv of these networks pads.</summary>
internal sealed record FoldedConv(Tensor W, Tensor B, int StrideH, int StrideW, int Groups)
{
    public Tensor Run(Tensor x) =>
        x.Conv2d(W, B, new Conv2dParams(StrideH, StrideW, (W.Shape[2] - 1) / 2, (W.Shape[3] - 1) / 2, Groups: Groups));

    public int OutChannels => W.Shape[0];

    public int InChannels => W.Shape[1] * Groups;
}

/// <summary>Squeeze-and-excitation: x * hardsigmoid(expand(relu(reduce(mean_hw(x))))), plus x itself when
/// <paramref name="Shortcut"/> (RSELayer of PP-OCR's RSE-FPN). Tessera's hardsigmoid is clamp(z / 6 + 1/2); a slope of
/// 0.2 (PaddleOCR's SEModule in MobileNetV3 and the FPN) is had by scaling the expand conv by 1.2 at load.</summary>
internal sealed record SqueezeExcite(FoldedConv Reduce, FoldedConv Expand, bool Shortcut)
{
    public Tensor Run(Tensor x)
    {
        var s = Expand.Run(Reduce.Run(x.GlobalAvgPool2d()).Map(UnaryOp.Relu)).HardSigmoid();
        var y = x * s;
        return Shortcut ? x + y : y;
    }
}

/// <summary>Reads weights by their PaddlePaddle names and folds batch norms and affines into convs.</summary>
internal sealed class PpOcrWeights(IWeightSource w, IBackend backend, List<Tensor> owned)
{
    public string Path => w.Path;

    public bool Contains(string name) => w.Contains(name);

    // Weights are declared constant, so a backend may keep derived forms (the CPU packs matmul panels once).
    public Tensor Upload(float[] data, int[] dims)
    {
        using var t = Tensor.FromArray(backend, FlushDenormals(data), dims);
        var c = t.AsConstant();
        owned.Add(c);
        return c;
    }

    public (float[] Data, int[] Dims) Host(string name)
    {
        if (!w.Contains(name)) throw new TesseraException($"{w.Path}: no weight named '{name}'");
        using var t = w.Load(name, backend);
        return (t.ToFloatArray(), t.Shape.Dims.ToArray());
    }

    public float Scalar(string name)
    {
        var (d, dims) = Host(name);
        if (d.Length != 1) throw new TesseraException($"{w.Path}: '{name}' should hold one value, it is [{string.Join(", ", dims)}]");
        return d[0];
    }

    /// <summary>Conv <c>{conv}.w_0</c> with its bias <c>{conv}.b_0</c> when the file has one, then batch norm
    /// <c>{bn}</c> (<c>.w_0</c> scale, <c>.b_0</c> shift, <c>.w_1</c> mean, <c>.w_2</c> variance) when named, folded:
    /// w' = w g / sqrt(var + eps), b' = (b - mean) g / sqrt(var + eps) + beta; then everything times <paramref name="scale"/>.
    /// <paramref name="depthwise"/> makes it one group per output channel (weight [O, 1, k, k]).</summary>
    public FoldedConv Conv(string conv, string? bn, int strideH = 1, int strideW = 1, bool depthwise = false, float eps = 1e-5f, double scale = 1)
    {
        var (wt, dims) = Host($"{conv}.w_0");
        int o = dims[0];
        if (dims.Length != 4 || (depthwise && dims[1] != 1))
            throw new TesseraException($"{w.Path}: conv '{conv}' is [{string.Join(", ", dims)}], expected {(depthwise ? "a depthwise [C, 1, kH, kW]" : "[O, C, kH, kW]")}");
        var bias = w.Contains($"{conv}.b_0") ? Host($"{conv}.b_0").Data : new float[o];
        if (bias.Length != o) throw new TesseraException($"{w.Path}: conv '{conv}' [{string.Join(", ", dims)}] has a bias of {bias.Length}");
        var (s, t) = bn is null ? (Ones(o), new double[o]) : BatchNorm(bn, o, eps);
        Fold(wt, bias, o, s, t, scale, perOutput: true, 1);
        return new FoldedConv(Upload(wt, dims), Upload(bias, [o]), strideH, strideW, depthwise ? o : 1);
    }

    /// <summary>PPLCNetV3's learnable rep layer (one re-parameterised conv with bias) followed by its learnable affine
    /// <c>{lab}.w_0</c> (scale) and <c>.w_1</c> (bias), folded: w' = w s, b' = b s + t. <paramref name="input"/>, when
    /// given, is an affine s x + t that the previous layer leaves to this one, folded in as well (see
    /// <see cref="FoldInputAffine"/>).</summary>
    public FoldedConv RepConv(string conv, string lab, int strideH, int strideW, bool depthwise, (float Scale, float Bias)? input = null)
    {
        var (wt, dims) = Host($"{conv}.w_0");
        var bias = Host($"{conv}.b_0").Data;
        int o = dims[0];
        if (dims.Length != 4 || bias.Length != o || (depthwise && dims[1] != 1))
            throw new TesseraException($"{w.Path}: '{conv}' is [{string.Join(", ", dims)}] with bias [{bias.Length}], expected a {(depthwise ? "depthwise [C, 1, k, k]" : "[O, C, 1, 1]")} conv");
        double s = Scalar($"{lab}.w_0"), t = Scalar($"{lab}.w_1");
        var ss = new double[o];
        var tt = new double[o];
        Array.Fill(ss, s);
        Array.Fill(tt, t);
        Fold(wt, bias, o, ss, tt, 1, perOutput: true, 1);
        if (input is { } ia) FoldInputAffine(wt, bias, dims, ia.Scale, ia.Bias, $"{w.Path}: '{conv}'");
        return new FoldedConv(Upload(wt, dims), Upload(bias, [o]), strideH, strideW, depthwise ? o : 1);
    }

    /// <summary>conv(s x + t) as conv'(x), for a 1x1 conv of one group (no padding, so every output sees t): w' = w s,
    /// b' = b + t sum_c w[o, c]. Saves a pass over the conv's input at run time.</summary>
    internal static void FoldInputAffine(float[] wt, float[] bias, int[] dims, double s, double t, string what)
    {
        if (dims.Length != 4 || dims[2] != 1 || dims[3] != 1 || wt.Length != dims[0] * dims[1] || bias.Length != dims[0])
            throw new TesseraException($"{what}: an input affine folds only into a 1x1 conv of one group, this one is [{string.Join(", ", dims)}]");
        int o = dims[0], c = dims[1];
        for (int i = 0; i < o; i++)
        {
            double sum = 0;
            for (int j = 0; j < c; j++) sum += wt[i * c + j];
            bias[i] = (float)(bias[i] + t * sum);
            for (int j = 0; j < c; j++) wt[i * c + j] = (float)(wt[i * c + j] * s);
        }
    }

    /// <summary>Sets subnormal weights to zero, in place (returns the array). Some published weights are up to a quarter
    /// subnormal (PP-OCRv4 rec's squeeze-and-excitation convs); an FMA on one takes a microcode assist on x86, which
    /// made those tiny convs cost as much as a large one. Values under 1.2e-38 change no f32 result.</summary>
    internal static float[] FlushDenormals(float[] a)
    {
        for (int i = 0; i < a.Length; i++)
            if (float.IsSubnormal(a[i])) a[i] = 0;
        return a;
    }

    /// <summary>A transposed conv <c>{conv}.w_0</c> [C, O, kH, kW] with its bias <c>{conv}.b_0</c> (any shape holding O
    /// values), then batch norm <c>{bn}</c> when named, folded per output channel (the weight's second axis).</summary>
    public (Tensor W, Tensor B) ConvTransposeBn(string conv, string? bn, float eps = 1e-5f)
    {
        var (wt, dims) = Host($"{conv}.w_0");
        var bias = Host($"{conv}.b_0").Data;
        if (dims.Length != 4 || bias.Length != dims[1])
            throw new TesseraException($"{w.Path}: transposed conv '{conv}' is [{string.Join(", ", dims)}] with {bias.Length} bias values, expected [C, O, kH, kW] and O");
        int o = dims[1];
        var (s, t) = bn is null ? (Ones(o), new double[o]) : BatchNorm(bn, o, eps);
        Fold(wt, bias, o, s, t, 1, perOutput: false, dims[0]);
        return (Upload(wt, dims), Upload(bias, [o]));
    }

    // Per output channel o: weight *= s[o] * scale, bias = (bias s[o] + t[o]) * scale. The output channel is the
    // weight's first axis for a conv, its second for a transposed conv ([C, O, kH, kW]).
    private static void Fold(float[] wt, float[] bias, int o, double[] s, double[] t, double scale, bool perOutput, int inChannels)
    {
        int per = wt.Length / (o * inChannels);
        for (int i = 0; i < wt.Length; i++)
        {
            int oc = perOutput ? i / per : i / per % o;
            wt[i] = (float)(wt[i] * s[oc] * scale);
        }
        for (int i = 0; i < o; i++) bias[i] = (float)((bias[i] * s[i] + t[i]) * scale);
    }

    private static double[] Ones(int n)
    {
        var r = new double[n];
        Array.Fill(r, 1.0);
        return r;
    }

    // Batch norm as y = x s + t: s = gamma / sqrt(var + eps), t = beta - mean s.
    private (double[] S, double[] T) BatchNorm(string bn, int o, float eps)
    {
        var gamma = Host($"{bn}.w_0").Data;
        var beta = Host($"{bn}.b_0").Data;
        var mean = Host($"{bn}.w_1").Data;
        var var_ = Host($"{bn}.w_2").Data;
        if (gamma.Length != o || beta.Length != o || mean.Length != o || var_.Length != o)
            throw new TesseraException($"{w.Path}: batch norm '{bn}' has {gamma.Length} channels, its conv {o}");
        var s = new double[o];
        var t = new double[o];
        for (int i = 0; i < o; i++)
        {
            s[i] = gamma[i] / Math.Sqrt(var_[i] + (double)eps);
            t[i] = beta[i] - mean[i] * s[i];
        }
        return (s, t);
    }
}
