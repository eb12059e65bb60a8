using System.Text;
using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models;

// CRNN (Shi, Bai and Yao, "An End-to-End Trainable Neural Network for Image-based Sequence Recognition", 2015) as
// crnn.pytorch (meijieru) builds it, with its checkpoint names:
//
//   gray image [B, 1, 32, W], normalised to [-1, 1]
//   -> 7 convs (3x3 pad 1, the last 2x2 pad 0), ReLU after each, batch norm after convs 2, 4 and 6:
//      conv0 -> maxpool 2x2/2 -> conv1 -> maxpool 2x2/2 -> conv2, conv3 -> maxpool 2x2 stride (2, 1) pad (0, 1)
//      -> conv4, conv5 -> maxpool 2x2 stride (2, 1) pad (0, 1) -> conv6: [B, 512, 1, W/4 + 1]
//   -> squeeze the height, [T, B, 512] (sequence first)
//   -> two BidirectionalLSTM blocks: nn.LSTM(bidirectional) then a linear over [fwd; bwd]: 512 -> 256 -> classes
//   -> logits [T, B, classes], greedy CTC decoding with class 0 the blank and class k the alphabet's k-th character.
//
// Weights come through the weight builder; batch norms are folded into their convs when the model loads (Nn.ConvFold). PyTorch's LSTM gate blocks (i, f, g, o) are reordered
// into ONNX's (i, o, f, c), which Tessera's Lstm op takes, and both directions are stacked into one [2, 4H, I] weight.

/// <summary>A CRNN's configuration: crnn.pytorch's <c>CRNN(imgH, nc, nclass, nh)</c> and its alphabet. Convolution
/// widths come from the checkpoint, so other CRNN sizes load.</summary>
/// <param name="Alphabet">The characters, class k + 1 being the k-th (by Unicode scalar, as Python indexes a str).</param>
/// <param name="ImageHeight">Input height (imgH); the CNN must bring it to 1 (32 for the published layout).</param>
/// <param name="Channels">Input channels (nc): 1 for gray.</param>
/// <param name="HiddenSize">LSTM hidden size (nh).</param>
/// <param name="BnEps">Batch-norm epsilon.</param>
public sealed record CrnnConfig(string Alphabet, int ImageHeight = 32, int Channels = 1, int HiddenSize = 256, float BnEps = 1e-5f)
{
    /// <summary>crnn.pytorch's demo alphabet: digits and lower-case letters (37 classes with the blank).</summary>
    public static CrnnConfig Demo { get; } = new("0123456789abcdefghijklmnopqrstuvwxyz");

    /// <summary>The alphabet as one string per class after the blank.</summary>
    public IReadOnlyList<string> Characters => [.. Alphabet.EnumerateRunes().Select(r => r.ToString())];

    /// <summary>Classes (nclass): the alphabet plus the CTC blank.</summary>
    public int Classes => Characters.Count + 1;
}

/// <summary>A CRNN text recogniser on Tessera's ops: <see cref="Forward"/> maps line images to logits, <see cref="Decode"/>
/// turns logits into text.</summary>
public sealed class Crnn : IDisposable
{
    // crnn.pytorch's layout: kernel and padding of each conv, batch norm after it, and the max pool after it.
    private static readonly int[] Kernel = [3, 3, 3, 3, 3, 3, 2];
    private static readonly bool[] HasBatchNorm = [false, false, true, false, true, false, true];
    private static readonly Pool2dParams?[] PoolAfter =
    [
        Pool2dParams.Square(2), Pool2dParams.Square(2), null, new(2, 2, 2, 1, 0, 1), null, new(2, 2, 2, 1, 0, 1), null,
    ];

    private readonly WeightSet _weights;
    private readonly Conv2dBn[] _convs;
    private readonly BiLstm[] _rnn;

    /// <summary>The configuration.</summary>
    public CrnnConfig Config { get; }

    private Crnn(WeightBuilder wb, CrnnConfig cfg)
    {
        Config = cfg;
        var cnn = wb.Pp("cnn");
        _convs = new Conv2dBn[Kernel.Length];
        int channels = cfg.Channels;
        for (int i = 0; i < _convs.Length; i++)
        {
            var conv = cnn.Pp($"conv{i}");
            var fold = ConvFold.Read(conv, ConvNames.Torch, true, false, -1, channels, Kernel[i], Kernel[i]);
            if (HasBatchNorm[i]) fold.BatchNorm(cnn.Pp($"batchnorm{i}"), ConvNames.Torch, cfg.BnEps);
            _convs[i] = Conv2dBn.Create(conv, fold);
            channels = _convs[i].OutChannels;
        }
        var rnn = new List<BiLstm>();
        for (int l = 0; wb.Contains($"rnn.{l}.rnn.weight_ih_l0"); l++)
        {
            rnn.Add(BiLstm.Load(wb.Pp($"rnn.{l}"), channels, cfg.HiddenSize));
            channels = rnn[^1].Embedding.OutFeatures;
        }
        if (rnn.Count == 0) throw new TesseraException($"CRNN: {wb.Path} has no tensor 'rnn.0.rnn.weight_ih_l0' (the first BidirectionalLSTM)");
        if (channels != cfg.Classes)
            throw new TesseraException($"CRNN: the last embedding gives {channels} classes, the alphabet {cfg.Classes} ({cfg.Classes - 1} characters and the blank)");
        _rnn = [.. rnn];
        _weights = wb.Commit();
    }

    /// <summary>Loads a checkpoint (safetensors, or any format <see cref="WeightFile"/> opens) with crnn.pytorch's names
    /// (also under DataParallel's "module." prefix, which the builder's default renames strip).</summary>
    public static Crnn Load(string path, IBackend backend, CrnnConfig config)
    {
        using var wb = WeightBuilder.Open(backend, path);
        return Load(wb, config);
    }

    /// <summary>Loads through a weight builder; the model takes what it loads and disposes it, and nothing is kept
    /// when loading fails.</summary>
    public static Crnn Load(WeightBuilder weights, CrnnConfig config) => new(weights, config);

    /// <summary>Logits [T, B, classes] of images [B, channels, height, W] normalised to [-1, 1]; T = W / 4 + 1 for the
    /// published layout.</summary>
    public Tensor Forward(Tensor image)
    {
        if (image.Rank != 4 || image.Shape[1] != Config.Channels || image.Shape[2] != Config.ImageHeight)
            throw new TesseraException($"CRNN needs images [B, {Config.Channels}, {Config.ImageHeight}, W], got {image.Shape}");
        using var scope = TensorScope.Begin();
        var x = image;
        for (int i = 0; i < _convs.Length; i++)
        {
            x = _convs[i].Forward(x, Activation.Relu);
            if (PoolAfter[i] is { } pool) x = x.MaxPool2d(pool);
        }
        if (x.Shape[2] != 1)
            throw new TesseraException($"CRNN: the CNN leaves feature maps {x.Shape} of height {x.Shape[2]}; the input height must bring it to 1");
        var seq = x.Squeeze(2).Permute(2, 0, 1); // [T, B, C]
        foreach (var r in _rnn) seq = r.Forward(seq);
        return scope.Keep(seq);
    }

    /// <summary>Greedy CTC decoding of logits [T, B, classes] with this model's alphabet.</summary>
    public IReadOnlyList<string> Decode(Tensor logits) => DecodeGreedy(logits, Config.Characters);

    /// <summary>crnn.pytorch's strLabelConverter.decode: the best class at each step (the first on ties), repeats
    /// merged, blanks (class 0) dropped, class k read as characters[k - 1].</summary>
    public static IReadOnlyList<string> DecodeGreedy(Tensor logits, IReadOnlyList<string> characters)
    {
        if (logits.Rank != 3 || logits.Shape[2] != characters.Count + 1)
            throw new TesseraException($"CTC decode needs logits [T, B, {characters.Count + 1}], got {logits.Shape}");
        int t = logits.Shape[0], b = logits.Shape[1], k = logits.Shape[2];
        var p = logits.ToFloatArray();
        var result = new string[b];
        var text = new StringBuilder();
        for (int i = 0; i < b; i++)
        {
            text.Clear();
            int prev = 0;
            for (int s = 0; s < t; s++)
            {
                var row = p.AsSpan((s * b + i) * k, k);
                int best = 0;
                for (int c = 1; c < k; c++) if (row[c] > row[best]) best = c;
                if (best != 0 && best != prev) text.Append(characters[best - 1]);
                prev = best;
            }
            result[i] = text.ToString();
        }
        return result;
    }

    /// <summary>Runs the network and decodes: one string per image.</summary>
    public IReadOnlyList<string> Recognize(Tensor image)
    {
        using var logits = Forward(image);
        return Decode(logits);
    }

    /// <summary>Releases the weights.</summary>
    public void Dispose() => _weights.Dispose();

    // BidirectionalLSTM: nn.LSTM(bidirectional) then a linear over both directions' outputs.
    private sealed record BiLstm(Tensor W, Tensor R, Tensor B, Linear Embedding)
    {
        private static readonly LstmOptions Both = new() { Direction = LstmDirection.Bidirectional };

        public Tensor Forward(Tensor x)
        {
            int t = x.Shape[0], b = x.Shape[1];
            var y = x.Lstm(W, R, B, Both).Y;                                // [T, 2, B, H]
            var both = y.Permute(0, 2, 1, 3).Reshape(t, b, 2 * R.Shape[2]); // [T, B, 2H]: forward then backward
            return Embedding.Forward(both);
        }

        /// <summary>nn.LSTM's weight_ih_l0 [4H, I], weight_hh_l0 [4H, H], bias_ih_l0 and bias_hh_l0 [4H] and their
        /// _reverse twins under <c>rnn.</c>, stacked into ONNX's W [2, 4H, I], R [2, 4H, H], B [2, 8H] with the gate
        /// blocks reordered from PyTorch's i, f, g, o to ONNX's i, o, f, c (the Lstm op's layout); then
        /// <c>embedding.weight</c> [out, 2H] and <c>embedding.bias</c> [out], as stored.</summary>
        public static BiLstm Load(WeightBuilder wb, int input, int hidden)
        {
            int g4 = 4 * hidden;
            var w = new float[2 * g4 * input];
            var r = new float[2 * g4 * hidden];
            var b = new float[2 * 2 * g4];
            var lstm = wb.Pp("rnn");
            for (int d = 0; d < 2; d++)
            {
                string sfx = d == 0 ? "_l0" : "_l0_reverse";
                Reorder(lstm.GetHost($"weight_ih{sfx}", g4, input), input, hidden, w.AsSpan(d * g4 * input));
                Reorder(lstm.GetHost($"weight_hh{sfx}", g4, hidden), hidden, hidden, r.AsSpan(d * g4 * hidden));
                Reorder(lstm.GetHost($"bias_ih{sfx}", g4), 1, hidden, b.AsSpan(d * 2 * g4));
                Reorder(lstm.GetHost($"bias_hh{sfx}", g4), 1, hidden, b.AsSpan(d * 2 * g4 + g4));
            }
            var emb = wb.Pp("embedding");
            var embW = emb.Get("weight", -1, 2 * hidden);   // its output width comes from the checkpoint
            return new BiLstm(wb.Upload(w, 2, g4, input), wb.Upload(r, 2, g4, hidden), wb.Upload(b, 2, 2 * g4),
                new Linear(embW, emb.GetAs("bias", DType.F32, embW.Shape[0])));
        }

        // PyTorch's gate blocks i, f, g, o (rows of `cols` values, each block `hidden` rows) into ONNX's i, o, f, c.
        private static void Reorder(float[] src, int cols, int hidden, Span<float> dst)
        {
            int block = hidden * cols;
            ReadOnlySpan<int> fromTorch = [0, 3, 1, 2]; // ONNX block k comes from PyTorch block fromTorch[k]
            for (int k = 0; k < 4; k++) src.AsSpan(fromTorch[k] * block, block).CopyTo(dst[(k * block)..]);
        }
    }
}
