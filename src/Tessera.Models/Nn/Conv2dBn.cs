using Tessera.Formats;

namespace Tessera.Models.Nn;

// Inference networks of the CNN era follow most convs with a batch norm (or a learnable affine) that is a fixed
// per-channel y = x s + t once trained, so it folds into the conv's weight and bias when the model loads and what
// runs is one conv. One folding helper for every model: the values are read on the host, every fold is done in
// double, and each value is rounded to f32 once, when the folded weight is uploaded.

/// <summary>The parameter names of a conv and of the batch norm after it, relative to their builders' prefixes.</summary>
/// <param name="Weight">The conv's weight.</param>
/// <param name="Bias">The conv's bias.</param>
/// <param name="BnScale">The batch norm's scale (gamma).</param>
/// <param name="BnShift">Its shift (beta).</param>
/// <param name="BnMean">Its running mean.</param>
/// <param name="BnVariance">Its running variance.</param>
public sealed record ConvNames(string Weight, string Bias, string BnScale, string BnShift, string BnMean, string BnVariance)
{
    /// <summary>PyTorch's names (<c>weight</c>, <c>bias</c>, <c>running_mean</c>, <c>running_var</c>).</summary>
    public static ConvNames Torch { get; } = new("weight", "bias", "weight", "bias", "running_mean", "running_var");

    /// <summary>PaddlePaddle's names (<c>w_0</c>, <c>b_0</c>; batch norm <c>w_0</c> scale, <c>b_0</c> shift, <c>w_1</c>
    /// mean, <c>w_2</c> variance), as its ONNX exports keep them.</summary>
    public static ConvNames Paddle { get; } = new("w_0", "b_0", "w_0", "b_0", "w_1", "w_2");
}

/// <summary>A conv's weight and bias on the host, in double, while normalisations are folded into them; then
/// <see cref="Upload"/>. The output channel is the weight's first axis for a conv ([O, C/groups, kH, kW]) and its
/// second for a transposed conv ([C, O, kH, kW], one group).</summary>
public sealed class ConvFold
{
    private readonly double[] _w, _b;
    private readonly int[] _dims;
    private readonly string _path, _name;

    private ConvFold(double[] w, double[] b, int[] dims, bool transposed, string path, string name)
    {
        _w = w;
        _b = b;
        _dims = dims;
        Transposed = transposed;
        _path = path;
        _name = name;
    }

    /// <summary>Whether this is a transposed conv's weight.</summary>
    public bool Transposed { get; }

    /// <summary>The weight's shape.</summary>
    public IReadOnlyList<int> Dims => _dims;

    /// <summary>Output channels.</summary>
    public int OutChannels => Transposed ? _dims[1] : _dims[0];

    /// <summary>Reads the conv's weight (4-D, checked against <paramref name="shape"/> when given, -1 for any size) and
    /// its bias, which may be stored in any shape holding one value per output channel. A missing bias is zeros
    /// unless <paramref name="biasRequired"/>.</summary>
    public static ConvFold Read(WeightBuilder conv, ConvNames names, bool biasRequired = false, bool transposed = false, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(names);
        var wt = conv.GetHost(names.Weight, shape.Length > 0 ? shape : [-1, -1, -1, -1]);
        int[] dims = [.. conv.Info(names.Weight).Dims.Select(d => (int)d)];
        int o = transposed ? dims[1] : dims[0];
        double[] bias;
        if (biasRequired || conv.Contains(names.Bias))
        {
            var b = conv.GetHost(names.Bias);
            if (b.Length != o)
                throw new WeightFormatException(conv.Path, conv.FullName(names.Bias), $"holds {b.Length} values, its conv [{string.Join(", ", dims)}] has {o} output channels");
            bias = [.. b.Select(v => (double)v)];
        }
        else bias = new double[o];
        return new ConvFold([.. wt.Select(v => (double)v)], bias, dims, transposed, conv.Path, conv.FullName(names.Weight));
    }

    /// <summary>Folds the batch norm that follows the conv: y = x s + t per output channel, s = gamma / sqrt(var + eps),
    /// t = beta - mean s.</summary>
    public ConvFold BatchNorm(WeightBuilder bn, ConvNames names, double eps)
    {
        ArgumentNullException.ThrowIfNull(bn);
        int o = OutChannels;
        var gamma = bn.GetHost(names.BnScale, o);
        var beta = bn.GetHost(names.BnShift, o);
        var mean = bn.GetHost(names.BnMean, o);
        var variance = bn.GetHost(names.BnVariance, o);
        var s = new double[o];
        var t = new double[o];
        for (int i = 0; i < o; i++)
        {
            s[i] = gamma[i] / Math.Sqrt(variance[i] + eps);
            t[i] = beta[i] - mean[i] * s[i];
        }
        return PerChannel(s, t);
    }

    /// <summary>Folds y = x s + t per output channel: w' = w s, b' = b s + t.</summary>
    public ConvFold PerChannel(ReadOnlySpan<double> s, ReadOnlySpan<double> t)
    {
        int o = OutChannels;
        if (s.Length != o || t.Length != o)
            throw new TesseraException($"{_path}: '{_name}': a per-channel affine of {s.Length} values does not fit {o} output channels");
        int inner = _dims[2] * _dims[3], outer = Transposed ? _dims[0] : 1, per = Transposed ? inner : _dims[1] * inner;
        for (int a = 0; a < outer; a++)
            for (int c = 0; c < o; c++)
            {
                var row = _w.AsSpan((a * o + c) * per, per);
                for (int j = 0; j < row.Length; j++) row[j] *= s[c];
            }
        for (int c = 0; c < o; c++) _b[c] = _b[c] * s[c] + t[c];
        return this;
    }

    /// <summary>Folds one affine y = x s + t for every output channel (PP-OCR's learnable affine blocks, a scale).</summary>
    public ConvFold Affine(double scale, double shift = 0)
    {
        for (int i = 0; i < _w.Length; i++) _w[i] *= scale;
        for (int c = 0; c < _b.Length; c++) _b[c] = _b[c] * scale + shift;
        return this;
    }

    /// <summary>Folds an affine the previous layer leaves on this conv's input: conv(s x + t) = conv'(x) with w' = w s,
    /// b' = b + t sum_c w[o, c]. Only a 1x1 conv (no padding, so every output sees t) takes it; any grouping works,
    /// since each output sums the weights of its own group's inputs.</summary>
    public ConvFold InputAffine(double scale, double shift)
    {
        if (Transposed || _dims[2] != 1 || _dims[3] != 1)
            throw new TesseraException($"{_path}: '{_name}' is [{string.Join(", ", _dims)}]: an input affine folds only into a 1x1 conv");
        int o = _dims[0], c = _dims[1];
        for (int i = 0; i < o; i++)
        {
            var row = _w.AsSpan(i * c, c);
            double sum = 0;
            foreach (var v in row) sum += v;
            _b[i] += shift * sum;
            for (int j = 0; j < c; j++) row[j] *= scale;
        }
        return this;
    }

    /// <summary>Rounds to f32 and uploads the weight and the bias [O] as constants owned by <paramref name="wb"/>'s set.
    /// <see cref="WeightBuilder.Upload"/> flushes subnormal values to zero: some published weights are up to a quarter
    /// subnormal (PP-OCRv4 rec's squeeze-and-excitation convs), and an FMA on one takes a microcode assist on x86,
    /// which made those tiny convs cost as much as a large one.</summary>
    public (Tensor Weight, Tensor Bias) Upload(WeightBuilder wb)
    {
        ArgumentNullException.ThrowIfNull(wb);
        var w = wb.Upload([.. _w.Select(v => (float)v)], _dims);
        var b = wb.Upload([.. _b.Select(v => (float)v)], OutChannels);
        return (w, b);
    }
}

/// <summary>A 2-D conv with its normalisation folded in: weight [O, C/groups, kH, kW], bias [O]; the forward may apply
/// an activation and an output affine in the conv's own epilogue.</summary>
public sealed class Conv2dBn
{
    /// <summary>A conv of folded weights.</summary>
    public Conv2dBn(Tensor weight, Tensor bias, Conv2dParams parameters)
    {
        Weight = weight;
        Bias = bias;
        Params = parameters;
    }

    /// <summary>The folded weight.</summary>
    public Tensor Weight { get; }

    /// <summary>The folded bias.</summary>
    public Tensor Bias { get; }

    /// <summary>Stride, padding, groups.</summary>
    public Conv2dParams Params { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels => Weight.Shape[0];

    /// <summary>Input channels.</summary>
    public int InChannels => Weight.Shape[1] * Params.Groups;

    /// <summary>conv(x) + bias.</summary>
    public Tensor Forward(Tensor x) => x.Conv2d(Weight, Bias, Params);

    /// <summary>act(conv(x) + bias) * scale + shift, in one op.</summary>
    public Tensor Forward(Tensor x, Activation activation, float scale = 1f, float shift = 0f) =>
        x.Conv2d(Weight, Bias, Params with { Activation = activation, OutScale = scale, OutShift = shift });

    /// <summary>The conv under <paramref name="conv"/> with the batch norm under <paramref name="bn"/> folded in (none
    /// when null), then multiplied by <paramref name="scale"/>; see <see cref="Create"/> for the geometry.</summary>
    public static Conv2dBn Load(WeightBuilder conv, WeightBuilder? bn, ConvNames names, int strideH = 1, int strideW = 1,
        bool depthwise = false, double eps = 1e-5, double scale = 1, bool biasRequired = false)
    {
        var fold = ConvFold.Read(conv, names, biasRequired);
        if (bn is not null) fold.BatchNorm(bn, names, eps);
        if (scale != 1) fold.Affine(scale);
        return Create(conv, fold, strideH, strideW, depthwise);
    }

    /// <summary>Uploads a fold as a conv padded by (k - 1) / 2 on each axis ("same" size at stride 1, as the OCR
    /// networks pad); <paramref name="depthwise"/> makes one group per output channel (weight [O, 1, kH, kW]).</summary>
    public static Conv2dBn Create(WeightBuilder wb, ConvFold fold, int strideH = 1, int strideW = 1, bool depthwise = false)
    {
        ArgumentNullException.ThrowIfNull(fold);
        var d = fold.Dims;
        if (fold.Transposed || (depthwise && d[1] != 1))
            throw new TesseraException($"{wb.Path}: conv under '{wb.Prefix}' is [{string.Join(", ", d)}], expected {(depthwise ? "a depthwise [C, 1, kH, kW]" : "[O, C, kH, kW]")}");
        var (w, b) = fold.Upload(wb);
        return new Conv2dBn(w, b, new Conv2dParams(strideH, strideW, (d[2] - 1) / 2, (d[3] - 1) / 2, Groups: depthwise ? d[0] : 1));
    }
}

/// <summary>A transposed 2-D conv with its normalisation folded in: weight [C, O, kH, kW], bias [O].</summary>
/// <param name="Weight">The folded weight.</param>
/// <param name="Bias">The folded bias.</param>
/// <param name="Params">Stride, padding.</param>
public sealed record ConvTranspose2dBn(Tensor Weight, Tensor Bias, ConvTranspose2dParams Params)
{
    /// <summary>Output channels.</summary>
    public int OutChannels => Weight.Shape[1];

    /// <summary>convT(x) + bias.</summary>
    public Tensor Forward(Tensor x) => x.ConvTranspose2d(Weight, Bias, Params);

    /// <summary>The transposed conv under <paramref name="conv"/> (bias required) with the batch norm under
    /// <paramref name="bn"/> folded in per output channel (none when null).</summary>
    public static ConvTranspose2dBn Load(WeightBuilder conv, WeightBuilder? bn, ConvNames names, ConvTranspose2dParams parameters, double eps = 1e-5)
    {
        var fold = ConvFold.Read(conv, names, biasRequired: true, transposed: true);
        if (bn is not null) fold.BatchNorm(bn, names, eps);
        var (w, b) = fold.Upload(conv);
        return new ConvTranspose2dBn(w, b, parameters);
    }
}
