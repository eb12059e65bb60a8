using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models;

// PP-OCRv4 text detection (PaddleOCR's ch_PP-OCRv4_det, a DB detector), as its inference model runs it:
//
//   image [B, 3, H, W] (H, W multiples of 32; normalised by the caller)
//   -> PPLCNetV3 backbone (det, scale 0.75): a 3x3/2 stem conv (+BN), then 14 depthwise-separable blocks of
//      learnable rep layers (conv with bias, scalar affine, hardswish, scalar affine); a stride-2 depthwise conv
//      skips its hardswish and affine (PaddleOCR's LearnableRepLayer acts only when stride != 2); blocks 10 and
//      11 squeeze-and-excite. The outputs of blocks 2, 4, 9 and 13 (strides 4, 8, 16, 32) go through 1x1 convs
//      with bias (48->12, 96->18, 192->42, 384->360).
//   -> RSE-FPN neck (96 channels): per level a 1x1 conv and a residual SE (x + x * se(x)); top-down, each level
//      adds the nearest 2x upsampling of the coarser one; per level a 3x3 conv (96->24) and a residual SE; the
//      coarser maps upsampled 8x, 4x, 2x to stride 4 and concatenated: [B, 96, H/4, W/4].
//   -> DB head (binarize branch): conv 3x3 96->24 + BN + ReLU, transposed conv 2x2/2 (+BN, ReLU), transposed
//      conv 2x2/2 24->1, sigmoid: the probability map [B, 1, H, W].
//
// Weights come through the weight builder by the names the ONNX export gives them (see PpOcrDetNames); batch norms
// and affines are folded into the convs at load (Nn.ConvFold). The graph itself is never interpreted.

/// <summary>The names of the detector's weights in the ONNX file (PaddlePaddle's auto-numbered parameter names):
/// <list type="bullet">
/// <item>stem: <c>{StemConv}.w_0</c> and batch norm <c>{StemBn}</c></item>
/// <item>block i: depthwise conv <c>conv2d_{FirstBlockConv + 2i}</c>, pointwise <c>+ 1</c> (each <c>.w_0/.b_0</c>);
/// their affines <c>mobile_one_block_{2i}</c>, <c>_{2i+1}</c>; the affines after their hardswish <c>whswish_b_{2i+1}</c>,
/// <c>_{2i+2}</c></item>
/// <item>squeeze-and-excitation of block i: <c>Se[i]</c> = (reduce conv, expand conv)</item>
/// <item>backbone output convs: <c>conv2d_{FirstOutConv + k}</c> with bias, k = 0..3 from fine to coarse</item>
/// <item>neck level k (fine to coarse): 1x1 conv <c>conv2d_{FirstNeckConv + 6k}</c> with SE <c>+1</c>, <c>+2</c>;
/// 3x3 conv <c>+3</c> with SE <c>+4</c>, <c>+5</c></item>
/// <item>head: conv <c>{HeadConv}</c> and batch norm <c>{HeadBns[0]}</c>, transposed convs <c>{Deconvs[j]}</c>
/// (<c>.w_0</c> [C, O, 2, 2], <c>.b_0</c>), the first followed by batch norm <c>{HeadBns[1]}</c></item>
/// </list></summary>
/// <param name="StemConv">Stem conv.</param>
/// <param name="StemBn">Stem batch norm.</param>
/// <param name="FirstBlockConv">Number of the first block's depthwise conv.</param>
/// <param name="Se">Squeeze-and-excitation convs by block index.</param>
/// <param name="FirstOutConv">Number of the first backbone output conv.</param>
/// <param name="FirstNeckConv">Number of the finest level's 1x1 neck conv.</param>
/// <param name="HeadConv">The head's 3x3 conv.</param>
/// <param name="HeadBns">The head's two batch norms.</param>
/// <param name="Deconvs">The head's two transposed convs.</param>
public sealed record PpOcrDetNames(string StemConv, string StemBn, int FirstBlockConv, IReadOnlyDictionary<int, (string Reduce, string Expand)> Se,
    int FirstOutConv, int FirstNeckConv, string HeadConv, string[] HeadBns, string[] Deconvs)
{
    /// <summary>The names in ch_PP-OCRv4_det_infer.onnx.</summary>
    public static PpOcrDetNames ChPpOcrV4 { get; } = new("conv2d_0", "batch_norm2d_0", 394,
        new Dictionary<int, (string, string)> { [10] = ("conv2d_96", "conv2d_97"), [11] = ("conv2d_107", "conv2d_108") },
        FirstOutConv: 131, FirstNeckConv: 135, HeadConv: "conv2d_159", HeadBns: ["batch_norm_0", "batch_norm_1"],
        Deconvs: ["conv2d_transpose_0", "conv2d_transpose_1"]);
}

/// <summary>The detector's configuration, mirroring PaddleOCR's ch_PP-OCRv4_det.yml (Backbone PPLCNetV3 scale 0.75
/// det, Neck RSEFPN out_channels 96 shortcut, Head DBHead k 50).</summary>
/// <param name="Blocks">The backbone's blocks (PPLCNetV3's NET_CONFIG_det, blocks2 to blocks6).</param>
/// <param name="Outputs">Indices of the blocks whose outputs feed the neck, fine to coarse.</param>
/// <param name="BnEps">Batch-norm epsilon.</param>
/// <param name="Names">Weight names in the file.</param>
public sealed record PpOcrDetConfig(IReadOnlyList<PpLcNetBlock> Blocks, int[] Outputs, float BnEps, PpOcrDetNames Names)
{
    /// <summary>ch_PP-OCRv4_det.</summary>
    public static PpOcrDetConfig ChPpOcrV4 { get; } = new(
        [
            new(1, 1, false),                                                                    // blocks2
            new(2, 2, false), new(1, 1, false),                                                  // blocks3
            new(2, 2, false), new(1, 1, false),                                                  // blocks4
            new(2, 2, false), new(1, 1, false), new(1, 1, false), new(1, 1, false), new(1, 1, false), // blocks5
            new(2, 2, true), new(1, 1, true), new(1, 1, false), new(1, 1, false),                // blocks6
        ],
        Outputs: [2, 4, 9, 13], BnEps: 1e-5f, Names: PpOcrDetNames.ChPpOcrV4);
}

/// <summary>PP-OCRv4's DB text detector on Tessera's ops: <see cref="Forward"/> maps a normalised image to the text
/// probability map (pre- and post-processing live elsewhere).</summary>
public sealed class PpOcrDetector : Ocr.ITextDetector
{
    private readonly WeightSet _weights;
    private readonly PpLcNetV3 _backbone;
    private readonly Conv2dBn[] _outs;
    private readonly RseConv[] _ins, _inp;
    private readonly Conv2dBn _headConv;
    private readonly ConvTranspose2dBn _deconv1, _deconv2;

    /// <summary>The configuration.</summary>
    public PpOcrDetConfig Config { get; }

    private PpOcrDetector(WeightBuilder wb, PpOcrDetConfig cfg)
    {
        Config = cfg;
        var n = cfg.Names;
        _backbone = PpLcNetV3.Load(wb, cfg.Blocks, n.StemConv, n.StemBn, n.FirstBlockConv, n.Se, cfg.BnEps, "PP-OCR det");
        int levels = cfg.Outputs.Length;
        _outs = new Conv2dBn[levels];
        _ins = new RseConv[levels];
        _inp = new RseConv[levels];
        for (int k = 0; k < levels; k++)
        {
            _outs[k] = Conv2dBn.Load(wb.Pp($"conv2d_{n.FirstOutConv + k}"), null, ConvNames.Paddle);
            int c = n.FirstNeckConv + 6 * k;
            _ins[k] = RseConv.Load(wb, c);
            _inp[k] = RseConv.Load(wb, c + 3);
            if (_outs[k].InChannels != _backbone.Channels(cfg.Outputs[k]) || _ins[k].Conv.InChannels != _outs[k].OutChannels)
                throw new TesseraException($"PP-OCR det: level {k}'s convs ({_outs[k].Weight.Shape}, {_ins[k].Conv.Weight.Shape}) do not fit block {cfg.Outputs[k]}");
        }
        _headConv = Conv2dBn.Load(wb.Pp(n.HeadConv), wb.Pp(n.HeadBns[0]), ConvNames.Paddle, eps: cfg.BnEps);
        _deconv1 = ConvTranspose2dBn.Load(wb.Pp(n.Deconvs[0]), wb.Pp(n.HeadBns[1]), ConvNames.Paddle, ConvTranspose2dParams.Square(2), cfg.BnEps);
        _deconv2 = ConvTranspose2dBn.Load(wb.Pp(n.Deconvs[1]), null, ConvNames.Paddle, ConvTranspose2dParams.Square(2));
        if (_headConv.InChannels != levels * _inp[0].Conv.OutChannels || _deconv2.OutChannels != 1)
            throw new TesseraException($"PP-OCR det: head conv {_headConv.Weight.Shape} and last transposed conv {_deconv2.Weight.Shape} do not fit the neck");
        _weights = wb.Commit();
    }

    /// <summary>Loads the detector from its ONNX export (weights only).</summary>
    public static PpOcrDetector Load(string onnxPath, IBackend backend, PpOcrDetConfig? config = null)
    {
        using var wb = WeightBuilder.Open(backend, onnxPath);
        return Load(wb, config);
    }

    /// <summary>Loads through a weight builder (PaddlePaddle's names at its prefix); the detector takes what it loads
    /// and disposes it, and nothing is kept when loading fails.</summary>
    public static PpOcrDetector Load(WeightBuilder weights, PpOcrDetConfig? config = null) =>
        new(weights, config ?? PpOcrDetConfig.ChPpOcrV4);

    /// <summary>Text probability map [B, 1, H, W] of normalised images [B, 3, H, W], H and W multiples of 32.</summary>
    public Tensor Forward(Tensor image)
    {
        if (image.Rank != 4 || image.Shape[1] != 3 || image.Shape[2] % 32 != 0 || image.Shape[3] % 32 != 0 || image.Shape[2] == 0 || image.Shape[3] == 0)
            throw new TesseraException($"PP-OCR det needs images [B, 3, H, W] with H and W positive multiples of 32, got {image.Shape}");
        using var scope = TensorScope.Begin();
        var feats = _backbone.Forward(image, Config.Outputs);
        int levels = feats.Length;
        // RSE-FPN: lateral convs, top-down sums, output convs, all brought to stride 4 and concatenated.
        var lat = new Tensor[levels];
        for (int k = 0; k < levels; k++) lat[k] = _ins[k].Forward(_outs[k].Forward(feats[k]));
        for (int k = levels - 2; k >= 0; k--) lat[k] = lat[k + 1].UpsampleNearestAdd(lat[k], 2);   // lat[k] + up2(lat[k + 1]) in one pass
        var parts = new Tensor[levels];
        for (int k = 0; k < levels; k++)
        {
            var p = _inp[k].Forward(lat[k]);
            parts[levels - 1 - k] = k == 0 ? p : p.UpsampleNearest(1 << k);   // coarsest first, as PaddleOCR concatenates
        }
        var fuse = Tensor.Concat(1, parts);
        // DB head, binarize branch.
        var y = _headConv.Forward(fuse, Activation.Relu);
        y = _deconv1.Forward(y).Map(UnaryOp.Relu);
        y = _deconv2.Forward(y).Map(UnaryOp.Sigmoid);
        return scope.Keep(y);
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose() => _weights.Dispose();

    // RSELayer: a conv (no bias, "same" padding) and a residual squeeze-and-excitation with hardsigmoid slope 0.2.
    private sealed record RseConv(Conv2dBn Conv, SqueezeExcite Se)
    {
        public Tensor Forward(Tensor x) => Se.Forward(Conv.Forward(x));

        public static RseConv Load(WeightBuilder wb, int conv) =>
            new(Conv2dBn.Load(wb.Pp($"conv2d_{conv}"), null, ConvNames.Paddle),
                SqueezeExcite.Load(wb, $"conv2d_{conv + 1}", $"conv2d_{conv + 2}", slope02: true, shortcut: true));
    }
}
