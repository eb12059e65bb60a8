using Tessera.Imaging;
using Tessera.Formats;

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
// when the model loads; what runs is conv -> hardswish -> affine. Weights are read by the names the ONNX export
// gives them (PaddlePaddle's auto-numbered parameter names, listed in PpOcrRecNames), never by interpreting
// the ONNX graph.

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
    private readonly List<Tensor> _owned = [];
    private readonly Conv _stem;
    private readonly Block[] _blocks;
    private readonly Conv[] _neck;
    private readonly Transformer[] _transformers;
    private readonly Tensor _normW, _normB, _headW, _headB;

    /// <summary>The configuration.</summary>
    public PpOcrRecConfig Config { get; }

    /// <summary>The class labels: index 0 is the CTC blank (""), then the dictionary's lines, then " ".</summary>
    public IReadOnlyList<string> Characters { get; }

    /// <summary>Number of output classes (6625 for the Chinese dictionary).</summary>
    public int Classes => _headB.Shape[0];

    private PpOcrRecognizer(IWeightSource w, IBackend backend, PpOcrRecConfig cfg, IReadOnlyList<string> characters)
    {
        Config = cfg;
        Characters = characters;
        var n = cfg.Names;
        var ld = new Loader(w, backend, _owned);
        _stem = ld.ConvBn(n.StemConv, n.StemBn, cfg.BnEps, 2, 2);
        _blocks = new Block[cfg.Blocks.Count];
        for (int i = 0; i < _blocks.Length; i++)
        {
            var b = cfg.Blocks[i];
            int dw = n.FirstBlockConv + 2 * i;
            // Without squeeze-and-excitation between them, the depthwise activation's affine folds into the 1x1 conv.
            var depthwise = ld.RepConv($"conv2d_{dw}", $"mobile_one_block_{2 * i}", $"whswish_b_{2 * i + 1}", b.StrideH, b.StrideW, depthwise: true);
            var pointwise = ld.RepConv($"conv2d_{dw + 1}", $"mobile_one_block_{2 * i + 1}", $"whswish_b_{2 * i + 2}", 1, 1, depthwise: false,
                b.Se ? null : (depthwise.ActScale, depthwise.ActBias));
            if (!b.Se) depthwise = depthwise with { ActScale = 1, ActBias = 0 };
            Se? se = null;
            if (b.Se)
            {
                if (!n.Se.TryGetValue(i, out var s)) throw new TesseraException($"PP-OCR rec config: block {i} has squeeze-and-excitation but no weight names for it");
                se = new Se(ld.Get($"{s.Reduce}.w_0"), ld.Get($"{s.Reduce}.b_0"), ld.Get($"{s.Expand}.w_0"), ld.Get($"{s.Expand}.b_0"));
            }
            _blocks[i] = new Block(depthwise, se, pointwise);
        }
        _neck = new Conv[5];
        for (int k = 0; k < 5; k++) _neck[k] = ld.ConvBn(n.NeckConvs[k], n.NeckBns[k], cfg.BnEps, 1, 1);
        int dim = _neck[1].W.Shape[0];
        if (dim % cfg.Heads != 0) throw new TesseraException($"PP-OCR rec: the neck width {dim} does not divide into {cfg.Heads} heads");
        // Blocks are counted by their norms: block j has norms FirstLayerNorm + 2j and + 2j + 1, the final norm follows.
        int depth = 0;
        while (w.Contains($"layer_norm_{n.FirstLayerNorm + 2 * depth + 2}.w_0")) depth++;
        _transformers = new Transformer[depth];
        for (int j = 0; j < depth; j++)
        {
            string Ln(int k) => $"layer_norm_{n.FirstLayerNorm + 2 * j + k}";
            string Li(int k) => $"linear_{n.FirstLinear + 4 * j + k}";
            _transformers[j] = new Transformer(
                ld.Get($"{Ln(0)}.w_0"), ld.Get($"{Ln(0)}.b_0"), ld.Get($"{Li(0)}.w_0"), ld.Get($"{Li(0)}.b_0"), ld.Get($"{Li(1)}.w_0"), ld.Get($"{Li(1)}.b_0"),
                ld.Get($"{Ln(1)}.w_0"), ld.Get($"{Ln(1)}.b_0"), ld.Get($"{Li(2)}.w_0"), ld.Get($"{Li(2)}.b_0"), ld.Get($"{Li(3)}.w_0"), ld.Get($"{Li(3)}.b_0"));
        }
        string norm = $"layer_norm_{n.FirstLayerNorm + 2 * depth}", head = $"linear_{n.FirstLinear + 4 * depth}";
        _normW = ld.Get($"{norm}.w_0");
        _normB = ld.Get($"{norm}.b_0");
        _headW = ld.Get($"{head}.w_0");
        _headB = ld.Get($"{head}.b_0");
        if (_headW.Rank != 2 || _headW.Shape[0] != dim || _headB.Shape[0] != _headW.Shape[1])
            throw new TesseraException($"PP-OCR rec: CTC head {head} is {_headW.Shape} with bias {_headB.Shape}, expected [{dim}, classes] and [classes]");
        if (characters.Count != Classes)
            throw new TesseraException($"PP-OCR rec: the dictionary gives {characters.Count} classes (blank + {characters.Count - 2} characters + space), the CTC head has {Classes}");
    }

    /// <summary>Loads the recogniser from an ONNX export (weights only) and its character dictionary
    /// (one character a line; the blank and the space class are added as PaddleOCR does with use_space_char).</summary>
    public static PpOcrRecognizer Load(string modelPath, string dictionaryPath, IBackend backend, PpOcrRecConfig? config = null)
    {
        using var w = WeightFile.Open(modelPath);
        return new PpOcrRecognizer(w, backend, config ?? PpOcrRecConfig.ChPpOcrV4, ReadDictionary(dictionaryPath));
    }

    /// <summary>Loads from an open weight source and a list of classes (blank first).</summary>
    public static PpOcrRecognizer Load(IWeightSource weights, IReadOnlyList<string> characters, IBackend backend, PpOcrRecConfig? config = null) =>
        new(weights, backend, config ?? PpOcrRecConfig.ChPpOcrV4, characters);

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
        var x = _stem.Run(image, Activation.None);
        foreach (var b in _blocks) x = b.Run(x);
        // PPLCNetV3 (rec) ends with F.avg_pool2d(x, [3, 2]) at inference: [B, 480, 3, W/4] -> [B, 480, 1, W/8].
        x = x.AvgPool2d(new Pool2dParams(3, 2, 3, 2));
        var seq = Neck(x);                                            // [B, T, 120]
        var logits = seq.MatMul(_headW, new MatMulEpilogue(_headB)); // CTC head, weight stored [in, out]
        return scope.Keep(logits.Softmax());
    }

    // EncoderWithSVTR: local convs, global mixing by transformer blocks, then the shortcut concat and two convs.
    private Tensor Neck(Tensor x)
    {
        var z = _neck[0].Run(x, Activation.Silu);
        z = _neck[1].Run(z, Activation.Silu);                           // [B, C, H, W]
        int b = z.Shape[0], c = z.Shape[1], h = z.Shape[2], w = z.Shape[3];
        var seq = z.Reshape(b, c, h * w).Transpose(1, 2);                // [B, HW, C]
        foreach (var t in _transformers) seq = t.Run(seq, Config.Heads, Config.BlockNormEps);
        seq = seq.LayerNorm(_normW, _normB, Config.FinalNormEps);
        z = seq.Reshape(b, h, w, c).Permute(0, 3, 1, 2);                 // [B, C, H, W]
        z = _neck[2].Run(z, Activation.Silu);
        z = Tensor.Concat(1, x, z);
        z = _neck[3].Run(z, Activation.Silu);
        z = _neck[4].Run(z, Activation.Silu);                            // [B, C, 1, T]
        return z.Squeeze(2).Transpose(1, 2);                              // Im2Seq: [B, T, C]
    }

    /// <summary>Greedy CTC decoding of probabilities [B, T, classes] with this model's <see cref="Characters"/>.</summary>
    public IReadOnlyList<RecognizedText> Decode(Tensor probs) => DecodeGreedy(probs, Characters);

    /// <summary>Greedy CTC decoding as PaddleOCR's CTCLabelDecode: the best class at each step (the first on ties,
    /// as numpy's argmax), repeats merged, blanks (class 0) dropped; the confidence is the mean of the kept steps'
    /// probabilities, 0 when nothing is kept.</summary>
    public static IReadOnlyList<RecognizedText> DecodeGreedy(Tensor probs, IReadOnlyList<string> characters)
    {
        if (probs.Rank != 3 || probs.Shape[2] != characters.Count)
            throw new TesseraException($"CTC decode needs probabilities [B, T, {characters.Count}], got {probs.Shape}");
        int b = probs.Shape[0], t = probs.Shape[1], k = probs.Shape[2];
        var p = probs.ToFloatArray();
        var result = new RecognizedText[b];
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < b; i++)
        {
            text.Clear();
            double sum = 0;
            int kept = 0, prev = -1;
            for (int s = 0; s < t; s++)
            {
                var row = p.AsSpan((i * t + s) * k, k);
                int best = 0;
                for (int c = 1; c < k; c++) if (row[c] > row[best]) best = c;
                if (best != 0 && best != prev)
                {
                    text.Append(characters[best]);
                    sum += row[best];
                    kept++;
                }
                prev = best;
            }
            result[i] = new RecognizedText(text.ToString(), kept == 0 ? 0f : (float)(sum / kept));
        }
        return result;
    }

    /// <summary>Recognises text-line crops: preprocesses them into one batch (padded to the widest), runs the
    /// network and decodes.</summary>
    public IReadOnlyList<RecognizedText> Recognize(IReadOnlyList<Image> lines, IBackend backend)
    {
        using var batch = PpOcrPreprocess.Batch(backend, lines, Config.ImageHeight, Config.MinImageWidth);
        using var probs = Forward(batch);
        return Decode(probs);
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }

    // A conv with folded normalisation: weight [O, C/groups, kH, kW], bias [O]; padding keeps the size ("same").
    // act(conv(x) + b) * scale + shift in one op: the backend applies the activation and affine to each output tile.
    private sealed record Conv(Tensor W, Tensor B, int StrideH, int StrideW, int Groups)
    {
        public Tensor Run(Tensor x, Activation act, float scale = 1f, float shift = 0f) =>
            x.Conv2d(W, B, new Conv2dParams(StrideH, StrideW, (W.Shape[2] - 1) / 2, (W.Shape[3] - 1) / 2, Groups: Groups,
                Activation: act, OutScale: scale, OutShift: shift));
    }

    // A re-parameterised conv of PPLCNetV3 (LearnableRepLayer with its LearnableAffineBlock folded in), then
    // hardswish and the activation's own scalar affine: a * hardswish(conv(x)) + c (1, 0 once folded into the next conv).
    private sealed record RepConv(Conv Conv, float ActScale, float ActBias)
    {
        public Tensor Run(Tensor x) => Conv.Run(x, Activation.HardSwish, ActScale, ActBias);
    }

    // Squeeze-and-excitation: x * hardsigmoid(conv(relu(conv(mean_hw(x))))).
    private sealed record Se(Tensor ReduceW, Tensor ReduceB, Tensor ExpandW, Tensor ExpandB)
    {
        public Tensor Run(Tensor x)
        {
            var s = x.GlobalAvgPool2d().Conv2d(ReduceW, ReduceB).Map(UnaryOp.Relu).Conv2d(ExpandW, ExpandB).HardSigmoid();
            return x * s;
        }
    }

    private sealed record Block(RepConv Depthwise, Se? Se, RepConv Pointwise)
    {
        public Tensor Run(Tensor x)
        {
            x = Depthwise.Run(x);
            if (Se is not null) x = Se.Run(x);
            return Pointwise.Run(x);
        }
    }

    // A pre-LN transformer block of SVTR: x + attn(norm1(x)), then + mlp(norm2(x)); linears stored [in, out].
    private sealed record Transformer(Tensor Norm1W, Tensor Norm1B, Tensor QkvW, Tensor QkvB, Tensor ProjW, Tensor ProjB,
        Tensor Norm2W, Tensor Norm2B, Tensor Fc1W, Tensor Fc1B, Tensor Fc2W, Tensor Fc2B)
    {
        public Tensor Run(Tensor x, int heads, float eps)
        {
            int b = x.Shape[0], n = x.Shape[1], c = x.Shape[2], hd = c / heads;
            var qkv = x.LayerNorm(Norm1W, Norm1B, eps).MatMul(QkvW, new MatMulEpilogue(QkvB));   // [B, N, 3C]
            var r = qkv.Reshape(b, n, 3, heads, hd).Permute(2, 0, 3, 1, 4);                    // [3, B, h, N, hd]
            var q = r.Select(0, 0);
            var k = r.Select(0, 1);
            var v = r.Select(0, 2);
            var att = q.MatMul(k.Transpose(-2, -1)).Softmax(scale: 1f / MathF.Sqrt(hd));         // [B, h, N, N]
            var o = att.MatMul(v).Transpose(1, 2).Reshape(b, n, c);                             // [B, N, C]
            x = o.MatMul(ProjW, new MatMulEpilogue(ProjB, Residual: x));
            var m = x.LayerNorm(Norm2W, Norm2B, eps).MatMul(Fc1W, new MatMulEpilogue(Fc1B, Activation.Silu));
            return m.MatMul(Fc2W, new MatMulEpilogue(Fc2B, Residual: x));
        }
    }

    // Reads weights by name, folds normalisation into convs on the host (in double) and uploads the results.
    private sealed class Loader(IWeightSource w, IBackend backend, List<Tensor> owned)
    {
        // Weights are declared constant, so a backend may keep derived forms (the CPU packs matmul panels once).
        // Read through the host so that subnormal weights are flushed (see PpOcrWeights.FlushDenormals).
        public Tensor Get(string name)
        {
            var (d, dims) = Host(name);
            return Upload(d, dims);
        }

        private (float[] Data, int[] Dims) Host(string name)
        {
            using var t = w.Load(name, backend);
            return (t.ToFloatArray(), t.Shape.Dims.ToArray());
        }

        private float Scalar(string name)
        {
            var (d, dims) = Host(name);
            if (d.Length != 1) throw new TesseraException($"{w.Path}: '{name}' should hold one value, it is [{string.Join(", ", dims)}]");
            return d[0];
        }

        private Tensor Upload(float[] data, int[] dims)
        {
            using var t = Tensor.FromArray(backend, PpOcrWeights.FlushDenormals(data), dims);
            var c = t.AsConstant();
            owned.Add(c);
            return c;
        }

        // conv (no bias) then batch norm: w' = w * g / sqrt(var + eps), b' = beta - mean * g / sqrt(var + eps).
        public Conv ConvBn(string conv, string bn, float eps, int strideH, int strideW)
        {
            var (wt, dims) = Host($"{conv}.w_0");
            var gamma = Host($"{bn}.w_0").Data;
            var beta = Host($"{bn}.b_0").Data;
            var mean = Host($"{bn}.w_1").Data;
            var var_ = Host($"{bn}.w_2").Data;
            int o = dims[0];
            if (dims.Length != 4 || gamma.Length != o || beta.Length != o || mean.Length != o || var_.Length != o)
                throw new TesseraException($"{w.Path}: conv '{conv}' [{string.Join(", ", dims)}] and batch norm '{bn}' [{gamma.Length}] do not fit");
            var bias = new float[o];
            int per = wt.Length / o;
            for (int i = 0; i < o; i++)
            {
                double s = gamma[i] / Math.Sqrt(var_[i] + (double)eps);
                for (int j = 0; j < per; j++) wt[i * per + j] = (float)(wt[i * per + j] * s);
                bias[i] = (float)(beta[i] - mean[i] * s);
            }
            return new Conv(Upload(wt, dims), Upload(bias, [o]), strideH, strideW, 1);
        }

        // LearnableRepLayer (reparameterised conv with bias) * s + t, folded: w' = w s, b' = b s + t.
        public RepConv RepConv(string conv, string lab, string actLab, int strideH, int strideW, bool depthwise, (float S, float T)? input = null)
        {
            var (wt, dims) = Host($"{conv}.w_0");
            var bias = Host($"{conv}.b_0").Data;
            float s = Scalar($"{lab}.w_0"), t = Scalar($"{lab}.w_1");
            int o = dims[0];
            if (dims.Length != 4 || bias.Length != o || (depthwise && dims[1] != 1))
                throw new TesseraException($"{w.Path}: '{conv}' is [{string.Join(", ", dims)}] with bias [{bias.Length}], expected a {(depthwise ? "depthwise [C, 1, k, k]" : "[O, C, 1, 1]")} conv");
            for (int i = 0; i < wt.Length; i++) wt[i] *= s;
            for (int i = 0; i < o; i++) bias[i] = bias[i] * s + t;
            if (input is { } ia) PpOcrWeights.FoldInputAffine(wt, bias, dims, ia.S, ia.T, $"{w.Path}: '{conv}'");
            var c = new Conv(Upload(wt, dims), Upload(bias, [o]), strideH, strideW, depthwise ? o : 1);
            return new RepConv(c, Scalar($"{actLab}.w_0"), Scalar($"{actLab}.w_1"));
        }
    }
}
