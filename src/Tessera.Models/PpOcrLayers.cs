using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models;

// Layers shared by PP-OCR's detector, recogniser and direction classifier. Every normalisation and learnable affine is
// folded into the conv it follows when the weights load (Nn.ConvFold), so what runs is conv (+ bias) with its
// activation and output affine in the conv's epilogue.

/// <summary>Squeeze-and-excitation: x * hardsigmoid(expand(relu(reduce(mean_hw(x))))), plus x itself when
/// <paramref name="Shortcut"/> (RSELayer of PP-OCR's RSE-FPN). Tessera's hardsigmoid is clamp(z / 6 + 1/2); a slope of
/// 0.2 (PaddleOCR's SEModule in MobileNetV3 and the FPN) is had by scaling the expand conv by 1.2 at load.</summary>
internal sealed record SqueezeExcite(Conv2dBn Reduce, Conv2dBn Expand, bool Shortcut)
{
    public Tensor Forward(Tensor x)
    {
        var s = Expand.Forward(Reduce.Forward(x.GlobalAvgPool2d(), Activation.Relu)).HardSigmoid();
        var y = x * s;
        return Shortcut ? x + y : y;
    }

    /// <summary>The two 1x1 convs (PaddlePaddle names, with bias); <paramref name="slope02"/> for hardsigmoid slope 0.2.</summary>
    public static SqueezeExcite Load(WeightBuilder wb, string reduce, string expand, bool slope02, bool shortcut) =>
        new(Conv2dBn.Load(wb.Pp(reduce), null, ConvNames.Paddle), Conv2dBn.Load(wb.Pp(expand), null, ConvNames.Paddle, scale: slope02 ? 1.2 : 1), shortcut);
}

/// <summary>PPLCNetV3 (PaddleOCR's backbone of PP-OCRv4 det and rec): a 3x3/2 stem conv (+BN), then depthwise-separable
/// blocks. Each conv is a re-parameterised learnable rep layer (one conv with bias) with its scalar learnable affine,
/// then hardswish and the activation's own scalar affine; a depthwise conv of stride 2 on both axes skips its
/// activation (LearnableRepLayer acts only when stride != 2). Without squeeze-and-excitation between them, the
/// depthwise activation's affine folds into the following 1x1 conv.</summary>
internal sealed class PpLcNetV3
{
    private readonly Conv2dBn _stem;
    private readonly Block[] _blocks;

    private PpLcNetV3(Conv2dBn stem, Block[] blocks)
    {
        _stem = stem;
        _blocks = blocks;
    }

    /// <summary>Output channels of block <paramref name="i"/>.</summary>
    public int Channels(int i) => _blocks[i].Pointwise.Conv.OutChannels;

    /// <summary>Loads the stem <c>{stemConv}</c> with batch norm <c>{stemBn}</c>, and block i's depthwise conv
    /// <c>conv2d_{firstBlockConv + 2i}</c>, its pointwise <c>+ 1</c>, their affines <c>mobile_one_block_{2i}</c>,
    /// <c>_{2i+1}</c>, the affines after their hardswish <c>whswish_b_{2i+1}</c>, <c>_{2i+2}</c>, and the
    /// squeeze-and-excitation convs <paramref name="se"/>[i].</summary>
    public static PpLcNetV3 Load(WeightBuilder wb, IReadOnlyList<PpLcNetBlock> config, string stemConv, string stemBn, int firstBlockConv,
        IReadOnlyDictionary<int, (string Reduce, string Expand)> se, float bnEps, string model)
    {
        var stem = Conv2dBn.Load(wb.Pp(stemConv), wb.Pp(stemBn), ConvNames.Paddle, 2, 2, eps: bnEps);
        var blocks = new Block[config.Count];
        for (int i = 0; i < blocks.Length; i++)
        {
            var b = config[i];
            int dw = firstBlockConv + 2 * i;
            bool dwAct = !(b.StrideH == 2 && b.StrideW == 2);
            var dwAffine = dwAct ? ActAffine(wb, $"whswish_b_{2 * i + 1}") : (1f, 0f);
            bool fold = dwAct && !b.Se;
            var depthwise = new Rep(RepConv(wb, $"conv2d_{dw}", $"mobile_one_block_{2 * i}", b.StrideH, b.StrideW, true, null),
                dwAct, fold ? (1f, 0f) : dwAffine);
            var pointwise = new Rep(RepConv(wb, $"conv2d_{dw + 1}", $"mobile_one_block_{2 * i + 1}", 1, 1, false, fold ? dwAffine : null),
                true, ActAffine(wb, $"whswish_b_{2 * i + 2}"));
            SqueezeExcite? s = null;
            if (b.Se)
            {
                if (!se.TryGetValue(i, out var names)) throw new TesseraException($"{model} config: block {i} has squeeze-and-excitation but no weight names for it");
                s = SqueezeExcite.Load(wb, names.Reduce, names.Expand, slope02: false, shortcut: false);
            }
            if (depthwise.Conv.InChannels != (i == 0 ? stem.OutChannels : blocks[i - 1].Pointwise.Conv.OutChannels) || pointwise.Conv.InChannels != depthwise.Conv.OutChannels)
                throw new TesseraException($"{model}: block {i}'s convs {depthwise.Conv.Weight.Shape} and {pointwise.Conv.Weight.Shape} do not chain");
            blocks[i] = new Block(depthwise, s, pointwise);
        }
        return new PpLcNetV3(stem, blocks);
    }

    /// <summary>The outputs of the blocks at <paramref name="taps"/> (ascending) for an image [B, 3, H, W].</summary>
    public Tensor[] Forward(Tensor image, IReadOnlyList<int> taps)
    {
        var result = new Tensor[taps.Count];
        var x = _stem.Forward(image);
        for (int i = 0, k = 0; i < _blocks.Length && k < taps.Count; i++)
        {
            x = _blocks[i].Forward(x);
            if (taps[k] == i) result[k++] = x;
        }
        return result;
    }

    // LearnableRepLayer re-parameterised (one conv with bias) times its learnable affine (.w_0 scale, .w_1 bias), and
    // the input affine the previous layer leaves to it, when given.
    private static Conv2dBn RepConv(WeightBuilder wb, string conv, string lab, int strideH, int strideW, bool depthwise, (float Scale, float Bias)? input)
    {
        var (s, t) = ActAffine(wb, lab);
        var fold = ConvFold.Read(wb.Pp(conv), ConvNames.Paddle, biasRequired: true).Affine(s, t);
        if (input is { } ia) fold.InputAffine(ia.Scale, ia.Bias);
        return Conv2dBn.Create(wb.Pp(conv), fold, strideH, strideW, depthwise);
    }

    private static (float Scale, float Bias) ActAffine(WeightBuilder wb, string name) => (wb.Pp(name).GetScalar("w_0"), wb.Pp(name).GetScalar("w_1"));

    // a * hardswish(conv(x)) + c in the conv's epilogue, or the bare conv when the layer does not act.
    private sealed record Rep(Conv2dBn Conv, bool Act, (float Scale, float Bias) Affine)
    {
        public Tensor Forward(Tensor x) => Act ? Conv.Forward(x, Activation.HardSwish, Affine.Scale, Affine.Bias) : Conv.Forward(x);
    }

    private sealed record Block(Rep Depthwise, SqueezeExcite? Se, Rep Pointwise)
    {
        public Tensor Forward(Tensor x)
        {
            x = Depthwise.Forward(x);
            if (Se is not null) x = Se.Forward(x);
            return Pointwise.Forward(x);
        }
    }
}
