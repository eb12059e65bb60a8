using Tessera.Imaging;
using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models;

// PP-OCRv4 text-line recognition (PaddleOCR's ch_PP-OCRv4_rec), as its inference model runs it:
//
//   image [B, 3, 48, W] (BGR, (x/255 - 0.5) / 0.5)
//   -> PPLCNetV3 backbone: a 3x3/2 stem conv (+BN), then 14 depthwise-separable blocks; each conv is a
//      re-parameterised "learnable rep layer" (one conv with bias) whose scalar learnable affine (scale, bias)
//      is followed by hardswish and a second scalar learnable affine; blocks 10 and 11 squeeze-and-excite
//   -> avg_pool 3x2 (PaddleOCR's F.avg_pool2d(x, [3, 2]) at inference): [B, 480, 1, W/8]
//   -> SVTR neck (EncoderWithSVTR): conv 1x3 480->60, conv 1x1 60->120 (BN, swish), two pre-LN transformer
//      blocks (8 heads of 15, MLP 240 with swish), LayerNorm, conv 1x1 120->480, concat with the neck's input,
//      conv 1x3 960->60, conv 1x1 60->120
//   -> CTC head: linear 120 -> 6625 classes, softmax: [B, W/8, 6625]
//
// Every batch norm and every learnable affine that follows a conv is folded into that conv's weight and bias
// when the model loads (Nn.ConvFold); what runs is conv -> hardswish -> affine. The SVTR blocks are the shared
// Nn.TransformerBlock, the CTC head an Nn.Linear (Paddle stores linears [in, out]). Weights come through the weight
// builder by the names the ONNX export gives them (PaddlePaddle's auto-numbered parameter names, listed in
// PpOcrRecNames), never by interpreting the ONNX graph.

/// <summary>One PPLCNetV3 block: a depthwise conv of the given stride, optional squeeze-and-excitation, a 1x1
/// conv. Channel counts and kernel sizes come from the weights.</summary>
/// <param name="StrideH">Vertical stride of the depthwise conv.</param>
/// <param name="StrideW">Horizontal stride of the depthwise conv.</param>
/// <param name="Se">Whether a squeeze-and-excitation module follows the depthwise conv.</param>
public sealed record PpLcNetBlock(int StrideH, int StrideW, bool Se);

/// <summary>The names of the recogniser's weights in the ONNX file. PaddlePaddle numbers parameters per layer type
/// across the whole training program, so the numbers are fixed per published model; this record spells the
/// mapping out (see <see cref="ChPpOcrV4"/>):
/// <list type="bullet">
/// <item>stem: <c>{StemConv}.w_0</c> [16, 3, 3, 3] and batch norm <c>{StemBn}.w_0</c> (scale), <c>.b_0</c> (shift),
/// <c>.w_1</c> (running mean), <c>.w_2</c> (running variance)</item>
/// <item>block i: depthwise conv <c>conv2d_{FirstBlockConv + 2i}.w_0/.b_0</c>, pointwise conv
/// <c>conv2d_{FirstBlockConv + 2i + 1}</c>; their learnable affines <c>mobile_one_block_{2i}</c> and
/// <c>mobile_one_block_{2i+1}</c> (<c>.w_0</c> scale, <c>.w_1</c> bias, one value each); the affines after their
/// hardswish <c>whswish_b_{2i+1}</c> and <c>whswish_b_{2i+2}</c></item>
/// <item>squeeze-and-excitation of block i: <c>Se[i]</c> = (reduce conv, expand conv), each with <c>.w_0/.b_0</c></item>
/// <item>neck convs 1-4 and the final 1x1: <c>NeckConvs[k].w_0</c> (no bias) with batch norm <c>NeckBns[k]</c></item>
/// <item>transformer block j: <c>layer_norm_{FirstLayerNorm + 2j}</c> (norm1), <c>+ 2j + 1</c> (norm2); linears
/// <c>linear_{FirstLinear + 4j}</c> (qkv), <c>+1</c> (proj), <c>+2</c> (fc1), <c>+3</c> (fc2), stored [in, out];
/// the final norm <c>layer_norm_{FirstLayerNorm + 2 depth}</c></item>
/// <item>CTC head: <c>linear_{FirstLinear + 4 depth}</c> [120, 6625] with bias</item>
/// </list></summary>
/// <param name="StemConv">Stem conv parameter prefix.</param>
/// <param name="StemBn">Stem batch-norm prefix.</param>
/// <param name="FirstBlockConv">Number of the first block's depthwise conv.</param>
/// <param name="Se">Squeeze-and-excitation convs by block index.</param>
/// <param name="NeckConvs">conv1, conv2, conv3, conv4, conv1x1 of the SVTR neck.</param>
/// <param name="NeckBns">Their batch norms.</param>
/// <param name="FirstLayerNorm">Number of the first transformer block's norm1.</param>
/// <param name="FirstLinear">Number of the first transformer block's qkv linear.</param>
public sealed record PpOcrRecNames(string StemConv, string StemBn, int FirstBlockConv,
    IReadOnlyDictionary<int, (string Reduce, string Expand)> Se, string[] NeckConvs, string[] NeckBns, int FirstLayerNorm, int FirstLinear)
{
    /// <summary>The names in ch_PP-OCRv4_rec_infer.onnx.</summary>
    public static PpOcrRecNames ChPpOcrV4 { get; } = new("conv2d_10", "batch_norm2d_2", 157,
        new Dictionary<int, (string, string)> { [10] = ("conv2d_106", "conv2d_107"), [11] = ("conv2d_117", "conv2d_118") },
        ["conv2d_142", "conv2d_143", "conv2d_144", "conv2d_145", "conv2d_146"],
        ["batch_norm2d_148", "batch_norm2d_149", "batch_norm2d_150", "batch_norm2d_151", "batch_norm2d_152"], 43, 77);
}

/// <summary>The recogniser's configuration, mirroring PaddleOCR's ch_PP-OCRv4_rec.yml (Backbone PPLCNetV3 scale 0.95,
/// Neck svtr dims 120 depth 2 hidden_dims 120 kernel_size [1, 3] use_guide, Head CTC) and its inference settings
/// (rec_image_shape 3,48,320).</summary>
/// <param name="Blocks">The backbone's blocks (PPLCNetV3's NET_CONFIG_rec, blocks2 to blocks6).</param>
/// <param name="ImageHeight">Input height; the neck's 3x2 pooling assumes 48.</param>
/// <param name="MinImageWidth">The narrowest batch PaddleOCR makes (320); wider lines widen the batch.</param>
/// <param name="Heads">Attention heads of the SVTR blocks.</param>
/// <param name="BnEps">Batch-norm epsilon.</param>
/// <param name="BlockNormEps">LayerNorm epsilon inside the SVTR blocks.</param>
/// <param name="FinalNormEps">Epsilon of the norm after them.</param>
/// <param name="Names">Weight names in the file.</param>
public sealed record PpOcrRecConfig(IReadOnlyList<PpLcNetBlock> Blocks, int ImageHeight, int MinImageWidth, int Heads,
    float BnEps, float BlockNormEps, float FinalNormEps, PpOcrRecNames Names)
{
    /// <summary>ch_PP-OCRv4_rec.</summary>
    public static PpOcrRecConfig ChPpOcrV4 { get; } = new(
        [
            new(1, 1, false),                                                                    // blocks2
            new(1, 1, false), new(1, 1, false),                                                  // blocks3
            new(2, 1, false), new(1, 1, false),                                                  // blocks4
            new(1, 2, false), new(1, 1, false), new(1, 1, false), new(1, 1, false), new(1, 1, false), // blocks5
            new(2, 1, true), new(1, 1, true), new(2, 1, false), new(1, 1, false),                // blocks6
        ],
        ImageHeight: 48, MinImageWidth: 320, Heads: 8, BnEps: 1e-5f, BlockNormEps: 1e-5f, FinalNormEps: 1e-6f,
        Names: PpOcrRecNames.ChPpOcrV4);
}

/// <summary>A recognised text line: the text and PaddleOCR's confidence (the mean of the kept characters' maximum
/// probabilities; 0 for an empty line).</summary>
/// <param name="Text">The decoded text.</param>
/// <param name="Confidence">Mean probability of the decoded characters.</param>
public sealed record RecognizedText(string Text, float Confidence);

/// <summary>PP-OCRv4's text recogniser on Tessera's ops: <see cref="Forward"/> maps preprocessed line images to
/// per-step class probabilities, <see cref="Decode"/> turns those into text by greedy CTC decoding.</summary>
public sealed class PpOcrRecognizer : IDisposable
{
    private readonly WeightSet _weights;
    private readonly PpLcNetV3 _backbone;
    private readonly int[] _lastBlock;
    private readonly Conv2dBn[] _neck;
    private readonly TransformerBlock[] _transformers;
    private readonly LayerNorm _norm;
    private readonly Linear _head;

    /// <summary>The configuration.</summary>
    public PpOcrRecConfig Config { get; }

    /// <summary>The class labels: index 0 is the CTC blank (""), then the dictionary's lines, then " ".</summary>
    public IReadOnlyList<string> Characters { get; }

    /// <summary>Number of output classes (6625 for the Chinese dictionary).</summary>
    public int Classes => _head.OutFeatures;

    private PpOcrRecognizer(WeightBuilder wb, PpOcrRecConfig cfg, IReadOnlyList<string> characters)
    {
        Config = cfg;
        Characters = characters;
        var n = cfg.Names;
        _backbone = PpLcNetV3.Load(wb, cfg.Blocks, n.StemConv, n.StemBn, n.FirstBlockConv, n.Se, cfg.BnEps, "PP-OCR rec");
        _lastBlock = [cfg.Blocks.Count - 1];
        _neck = new Conv2dBn[5];
        for (int k = 0; k < 5; k++) _neck[k] = Conv2dBn.Load(wb.Pp(n.NeckConvs[k]), wb.Pp(n.NeckBns[k]), ConvNames.Paddle, eps: cfg.BnEps);
        int dim = _neck[1].OutChannels;
        if (dim % cfg.Heads != 0) throw new TesseraException($"PP-OCR rec: the neck width {dim} does not divide into {cfg.Heads} heads");
        // Blocks are counted by their norms: block j has norms FirstLayerNorm + 2j and + 2j + 1, the final norm follows.
        int depth = 0;
        while (wb.Contains($"layer_norm_{n.FirstLayerNorm + 2 * depth + 2}.w_0")) depth++;
        _transformers = new TransformerBlock[depth];
        for (int j = 0; j < depth; j++)
            _transformers[j] = LoadSvtrBlock(wb, n.FirstLayerNorm + 2 * j, n.FirstLinear + 4 * j, dim, cfg.Heads, cfg.BlockNormEps);
        _norm = LayerNorm.Load(wb.Pp($"layer_norm_{n.FirstLayerNorm + 2 * depth}"), dim, cfg.FinalNormEps, true, true, "w_0", "b_0");
        _head = InOutLinear(wb.Pp($"linear_{n.FirstLinear + 4 * depth}"), dim);   // the CTC head
        if (characters.Count != Classes)
            throw new TesseraException($"PP-OCR rec: the dictionary gives {characters.Count} classes (blank + {characters.Count - 2} characters + space), the CTC head has {Classes}");
        _weights = wb.Commit();
    }

    /// <summary>Loads the recogniser from an ONNX export (weights only) and its character dictionary
    /// (one character a line; the blank and the space class are added as PaddleOCR does with use_space_char).</summary>
    public static PpOcrRecognizer Load(string modelPath, string dictionaryPath, IBackend backend, PpOcrRecConfig? config = null)
    {
        var characters = ReadDictionary(dictionaryPath);
        using var wb = WeightBuilder.Open(backend, modelPath);
        return Load(wb, characters, config);
    }

    /// <summary>Loads through a weight builder (PaddlePaddle's names at its prefix) with a list of classes (blank
    /// first); the recogniser takes what it loads and disposes it, and nothing is kept when loading fails.</summary>
    public static PpOcrRecognizer Load(WeightBuilder weights, IReadOnlyList<string> characters, PpOcrRecConfig? config = null) =>
        new(weights, config ?? PpOcrRecConfig.ChPpOcrV4, characters);

    /// <summary>PaddleOCR's character list: "" (the CTC blank), each dictionary line without its line break, " ".</summary>
    public static IReadOnlyList<string> ReadDictionary(string path)
    {
        var chars = new List<string> { "" };
        foreach (var line in File.ReadAllLines(path, System.Text.Encoding.UTF8)) chars.Add(line);
        chars.Add(" ");
        return chars;
    }

    /// <summary>Class probabilities [B, T, classes] of preprocessed images [B, 3, 48, W] (see <see cref="PpOcrPreprocess"/>);
    /// T = W / 8 for widths that are multiples of 8.</summary>
    public Tensor Forward(Tensor image)
    {
        if (image.Rank != 4 || image.Shape[1] != 3 || image.Shape[2] != Config.ImageHeight || image.Shape[3] < 16)
            throw new TesseraException($"PP-OCR rec needs images [B, 3, {Config.ImageHeight}, W >= 16], got {image.Shape}");
        using var scope = TensorScope.Begin();
        var x = _backbone.Forward(image, _lastBlock)[0];
        // PPLCNetV3 (rec) ends with F.avg_pool2d(x, [3, 2]) at inference: [B, 480, 3, W/4] -> [B, 480, 1, W/8].
        x = x.AvgPool2d(new Pool2dParams(3, 2, 3, 2));
        var seq = Neck(x);                                            // [B, T, 120]
        var logits = _head.Forward(seq);                              // CTC head
        return scope.Keep(logits.Softmax());
    }

    // EncoderWithSVTR: local convs, global mixing by transformer blocks, then the shortcut concat and two convs.
    private Tensor Neck(Tensor x)
    {
        var z = _neck[0].Forward(x, Activation.Silu);
        z = _neck[1].Forward(z, Activation.Silu);                          // [B, C, H, W]
        int b = z.Shape[0], c = z.Shape[1], h = z.Shape[2], w = z.Shape[3];
        var seq = z.Reshape(b, c, h * w).Transpose(1, 2);                // [B, HW, C]
        foreach (var t in _transformers) seq = t.Forward(seq);
        seq = _norm.Forward(seq);
        z = seq.Reshape(b, h, w, c).Permute(0, 3, 1, 2);                 // [B, C, H, W]
        z = _neck[2].Forward(z, Activation.Silu);
        z = Tensor.Concat(1, x, z);
        z = _neck[3].Forward(z, Activation.Silu);
        z = _neck[4].Forward(z, Activation.Silu);                           // [B, C, 1, T]
        return z.Squeeze(2).Transpose(1, 2);                              // Im2Seq: [B, T, C]
    }

    /// <summary>Greedy CTC decoding of probabilities [B, T, classes] with this model's <see cref="Characters"/>.</summary>
    public IReadOnlyList<RecognizedText> Decode(Tensor probs) => DecodeGreedy(probs, Characters);

    /// <summary>Greedy CTC decoding as PaddleOCR's CTCLabelDecode: the best class at each step (the first on ties,
    /// as numpy's argmax), repeats merged, blanks (class 0) dropped; the confidence is the mean of the kept steps'
    /// probabilities, 0 when nothing is kept.</summary>
    public static IReadOnlyList<RecognizedText> DecodeGreedy(Tensor probs, IReadOnlyList<string> characters) =>
        Ocr.CtcAlignment.Greedy(probs, characters).Select(a => a.ToRecognizedText()).ToArray();

    /// <summary>Recognises text-line crops: preprocesses them into one batch (padded to the widest), runs the
    /// network and decodes.</summary>
    public IReadOnlyList<RecognizedText> Recognize(IReadOnlyList<Image> lines, IBackend backend)
    {
        using var batch = PpOcrPreprocess.Batch(backend, lines, Config.ImageHeight, Config.MinImageWidth);
        using var probs = Forward(batch);
        return Decode(probs);
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose() => _weights.Dispose();

    // SVTR's pre-LN block as the shared TransformerBlock: layer_norm_{ln} (norm1) and _{ln + 1} (norm2); linears
    // stored [in, out]: linear_{li} (the packed qkv [C, 3C]), _{li + 1} (proj), _{li + 2} (fc1), _{li + 3} (fc2), swish.
    private static TransformerBlock LoadSvtrBlock(WeightBuilder wb, int ln, int li, int dim, int heads, float eps)
    {
        LayerNorm Norm(int k) => LayerNorm.Load(wb.Pp($"layer_norm_{ln + k}"), dim, eps, true, true, "w_0", "b_0");
        Linear Lin(int k, int inF, int outF) => Linear.Load(wb.Pp($"linear_{li + k}"), inF, outF, true, "w_0", "b_0", LinearLayout.InOut);
        var attention = new MultiHeadAttention(new AttentionConfig(dim, heads), Lin(0, dim, 3 * dim), Lin(1, dim, dim));
        var fc1 = InOutLinear(wb.Pp($"linear_{li + 2}"), dim);   // the MLP's width comes from the weights
        var mlp = new Mlp(fc1, Lin(3, fc1.OutFeatures, dim), Activation.Silu);
        return new TransformerBlock(Norm(0), attention, Norm(1), mlp);
    }

    // A Paddle linear "w_0" [in, out] with bias "b_0" [out], of any output width.
    private static Linear InOutLinear(WeightBuilder wb, int inFeatures)
    {
        var w = wb.Get("w_0", inFeatures, -1);
        return new Linear(w, wb.GetAs("b_0", DType.F32, w.Shape[1]), LinearLayout.InOut);
    }
}
