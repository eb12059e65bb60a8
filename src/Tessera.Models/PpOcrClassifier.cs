using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models;

// PaddleOCR's text direction classifier (ch_ppocr_mobile_v2.0_cls), as its inference model runs it:
//
//   line images [B, 3, 48, 192] (normalised by the caller, as for recognition)
//   -> MobileNetV3 small, scale 0.35 (PaddleOCR's rec MobileNetV3 with vertical-only strides (2, 1)):
//      a 3x3/2 stem conv (+BN, hardswish), then 11 residual units: 1x1 expand conv (+BN, act), depthwise conv
//      (+BN, act), optional squeeze-and-excitation (hardsigmoid slope 0.2), 1x1 linear conv (+BN), plus the
//      input when the unit keeps both shape and channels; a 1x1 conv (+BN, hardswish), max pool 2x2
//   -> global average pool, linear (fc_0, stored [in, out]) and softmax: [B, 2], class 0 = upright ("0"),
//      class 1 = upside down ("180").
//
// Weights are read by their PaddlePaddle names, numbered in order of construction: the stem is conv2d_0 with
// batch_norm_0, then each unit takes the next convs and batch norms (the SE convs have bias and no norm), the last
// 1x1 conv the ones after. Weights come through the weight builder; batch norms are folded into the convs at load.

/// <summary>One residual unit of MobileNetV3: channel counts and kernel sizes come from the weights.</summary>
/// <param name="StrideH">Vertical stride of the depthwise conv.</param>
/// <param name="StrideW">Horizontal stride of the depthwise conv.</param>
/// <param name="Se">Whether squeeze-and-excitation follows the depthwise conv.</param>
/// <param name="HardSwish">The unit's activation: hardswish, or ReLU when false.</param>
public sealed record MobileNetV3Unit(int StrideH, int StrideW, bool Se, bool HardSwish);

/// <summary>The classifier's configuration, mirroring PaddleOCR's cls_mv3.yml (MobileNetV3 small, scale 0.35,
/// ClsHead with labels 0 and 180, image shape 3, 48, 192).</summary>
/// <param name="Units">The residual units (MobileNetV3 small's cfg with PaddleOCR's (2, 1) strides).</param>
/// <param name="FirstConv">Number of the stem conv (conv2d_N); later convs follow in order.</param>
/// <param name="FirstBn">Number of the stem batch norm (batch_norm_N); later norms follow in order.</param>
/// <param name="Fc">The linear layer's name.</param>
/// <param name="Labels">Class labels: rotation angles in degrees.</param>
/// <param name="ImageHeight">Input height PaddleOCR resizes lines to.</param>
/// <param name="ImageWidth">Input width PaddleOCR pads lines to.</param>
/// <param name="BnEps">Batch-norm epsilon.</param>
public sealed record PpOcrClsConfig(IReadOnlyList<MobileNetV3Unit> Units, int FirstConv, int FirstBn, string Fc, int[] Labels,
    int ImageHeight, int ImageWidth, float BnEps)
{
    /// <summary>ch_ppocr_mobile_v2.0_cls.</summary>
    public static PpOcrClsConfig ChMobileV20 { get; } = new(
        [
            new(2, 1, true, false), new(2, 1, false, false), new(1, 1, false, false),
            new(2, 1, true, true), new(1, 1, true, true), new(1, 1, true, true), new(1, 1, true, true), new(1, 1, true, true),
            new(2, 1, true, true), new(1, 1, true, true), new(1, 1, true, true),
        ],
        FirstConv: 0, FirstBn: 0, Fc: "fc_0", Labels: [0, 180], ImageHeight: 48, ImageWidth: 192, BnEps: 1e-5f);
}

/// <summary>A direction decision for one line: the label (0 or 180 degrees) and its probability.</summary>
/// <param name="Angle">Rotation in degrees.</param>
/// <param name="Score">Probability of that class.</param>
public sealed record TextDirection(int Angle, float Score);

/// <summary>PaddleOCR's text direction classifier on Tessera's ops: <see cref="Forward"/> maps normalised line images
/// to the probabilities of 0 and 180 degrees.</summary>
public sealed class PpOcrClassifier : Ocr.IDirectionClassifier
{
    private readonly WeightSet _weights;
    private readonly Conv2dBn _stem, _last;
    private readonly Unit[] _units;
    private readonly Linear _fc;

    /// <summary>The configuration.</summary>
    public PpOcrClsConfig Config { get; }

    private PpOcrClassifier(WeightBuilder wb, PpOcrClsConfig cfg)
    {
        Config = cfg;
        int conv = cfg.FirstConv, bn = cfg.FirstBn;
        Conv2dBn ConvBn(int strideH = 1, int strideW = 1, bool depthwise = false) =>
            Conv2dBn.Load(wb.Pp($"conv2d_{conv++}"), wb.Pp($"batch_norm_{bn++}"), ConvNames.Paddle, strideH, strideW, depthwise, cfg.BnEps);
        _stem = ConvBn(2, 2);
        _units = new Unit[cfg.Units.Count];
        int channels = _stem.OutChannels;
        for (int i = 0; i < _units.Length; i++)
        {
            var u = cfg.Units[i];
            var expand = ConvBn();
            var depthwise = ConvBn(u.StrideH, u.StrideW, depthwise: true);
            // PaddleOCR's SEModule: hardsigmoid(slope 0.2, offset 0.5), had as Tessera's 1/6 slope on a 1.2-scaled conv.
            SqueezeExcite? se = null;
            if (u.Se)
            {
                se = SqueezeExcite.Load(wb, $"conv2d_{conv}", $"conv2d_{conv + 1}", slope02: true, shortcut: false);
                conv += 2;
            }
            var linear = ConvBn();
            if (expand.InChannels != channels || depthwise.OutChannels != expand.OutChannels || linear.InChannels != depthwise.OutChannels)
                throw new TesseraException($"PP-OCR cls: unit {i}'s convs {expand.Weight.Shape}, {depthwise.Weight.Shape}, {linear.Weight.Shape} do not chain from {channels} channels");
            bool residual = u.StrideH == 1 && u.StrideW == 1 && linear.OutChannels == channels;
            _units[i] = new Unit(expand, depthwise, se, linear, u.HardSwish ? Activation.HardSwish : Activation.Relu, residual);
            channels = linear.OutChannels;
        }
        _last = ConvBn();
        // fc_0 is stored [in, out] as PaddlePaddle stores linears.
        _fc = Linear.Load(wb.Pp(cfg.Fc), _last.OutChannels, cfg.Labels.Length, true, "w_0", "b_0", LinearLayout.InOut);
        _weights = wb.Commit();
    }

    /// <summary>Loads the classifier from its ONNX export (weights only).</summary>
    public static PpOcrClassifier Load(string onnxPath, IBackend backend, PpOcrClsConfig? config = null)
    {
        using var wb = WeightBuilder.Open(backend, onnxPath);
        return Load(wb, config);
    }

    /// <summary>Loads through a weight builder (PaddlePaddle's names at its prefix); the classifier takes what it
    /// loads and disposes it, and nothing is kept when loading fails.</summary>
    public static PpOcrClassifier Load(WeightBuilder weights, PpOcrClsConfig? config = null) =>
        new(weights, config ?? PpOcrClsConfig.ChMobileV20);

    /// <summary>Class probabilities [B, 2] (0 and 180 degrees) of normalised line images [B, 3, H, W]
    /// (PaddleOCR feeds 48 x 192).</summary>
    public Tensor Forward(Tensor batch)
    {
        if (batch.Rank != 4 || batch.Shape[1] != 3 || batch.Shape[2] < 32 || batch.Shape[3] < 4)
            throw new TesseraException($"PP-OCR cls needs line images [B, 3, H >= 32, W >= 4] ({Config.ImageHeight} x {Config.ImageWidth} as PaddleOCR feeds them), got {batch.Shape}");
        using var scope = TensorScope.Begin();
        var x = _stem.Forward(batch, Activation.HardSwish);
        foreach (var u in _units) x = u.Forward(x);
        x = _last.Forward(x, Activation.HardSwish).MaxPool2d(Pool2dParams.Square(2)).GlobalAvgPool2d();   // [B, C, 1, 1]
        var logits = _fc.Forward(x.Reshape(x.Shape[0], x.Shape[1]));
        return scope.Keep(logits.Softmax());
    }

    /// <summary>The most likely direction of each line of probabilities [B, classes] (the first on ties).</summary>
    public IReadOnlyList<TextDirection> Decode(Tensor probs)
    {
        int k = Config.Labels.Length;
        if (probs.Rank != 2 || probs.Shape[1] != k) throw new TesseraException($"PP-OCR cls decode needs probabilities [B, {k}], got {probs.Shape}");
        var p = probs.ToFloatArray();
        var r = new TextDirection[probs.Shape[0]];
        for (int i = 0; i < r.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
            r[i] = new TextDirection(Config.Labels[best], p[i * k + best]);
        }
        return r;
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose() => _weights.Dispose();

    private sealed record Unit(Conv2dBn Expand, Conv2dBn Depthwise, SqueezeExcite? Se, Conv2dBn Linear, Activation Act, bool Residual)
    {
        public Tensor Forward(Tensor x)
        {
            var y = Expand.Forward(x, Act);
            y = Depthwise.Forward(y, Act);
            if (Se is not null) y = Se.Forward(y);
            y = Linear.Forward(y);
            return Residual ? x + y : y;
        }
    }
}
