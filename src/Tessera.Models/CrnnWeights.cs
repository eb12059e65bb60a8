using Tessera.Formats;

namespace Tessera.Models;

/// <summary>Reads a crnn.pytorch checkpoint by its names (optionally under DataParallel's "module." prefix), checks each
/// tensor's shape with an error that names it, folds batch norms into convs and converts PyTorch's LSTM layout.</summary>
internal sealed class CrnnWeights(IWeightSource w, IBackend backend, List<Tensor> owned, string prefix)
{
    public string Prefix => prefix;

    public bool Contains(string name) => w.Contains(prefix + name);

    /// <summary>A tensor's values, checked against the expected dims (-1: any).</summary>
    private (float[] Data, int[] Dims) Host(string name, params int[] expect)
    {
        string full = prefix + name;
        if (!w.Contains(full)) throw new TesseraException($"CRNN: {w.Path} has no tensor '{full}'");
        using var t = w.Load(full, backend);
        var dims = t.Shape.Dims.ToArray();
        bool ok = dims.Length == expect.Length;
        for (int i = 0; ok && i < dims.Length; i++) ok = expect[i] < 0 || expect[i] == dims[i];
        if (!ok)
            throw new TesseraException($"CRNN: tensor '{full}' is [{string.Join(", ", dims)}], expected [{string.Join(", ", expect.Select(e => e < 0 ? "?" : e.ToString()))}]");
        return (t.ToFloatArray(), dims);
    }

    private Tensor Upload(float[] data, params int[] dims)
    {
        using var t = Tensor.FromArray(backend, data, dims);
        var c = t.AsConstant();
        owned.Add(c);
        return c;
    }

    /// <summary>cnn.conv{i} (weight [O, C, k, k], bias [O]) with cnn.batchnorm{i} folded in when it has one:
    /// w' = w g / sqrt(var + eps), b' = (b - mean) g / sqrt(var + eps) + beta.</summary>
    public FoldedConv Conv(int i, int inChannels, int k, bool batchNorm, float eps)
    {
        var (wt, dims) = Host($"cnn.conv{i}.weight", -1, inChannels, k, k);
        int o = dims[0];
        var (bias, _) = Host($"cnn.conv{i}.bias", o);
        if (batchNorm)
        {
            string bn = $"cnn.batchnorm{i}";
            var gamma = Host($"{bn}.weight", o).Data;
            var beta = Host($"{bn}.bias", o).Data;
            var mean = Host($"{bn}.running_mean", o).Data;
            var var_ = Host($"{bn}.running_var", o).Data;
            int per = wt.Length / o;
            for (int c = 0; c < o; c++)
            {
                double s = gamma[c] / Math.Sqrt(var_[c] + (double)eps);
                for (int j = 0; j < per; j++) wt[c * per + j] = (float)(wt[c * per + j] * s);
                bias[c] = (float)((bias[c] - mean[c]) * s + beta[c]);
            }
        }
        return new FoldedConv(Upload(wt, dims), Upload(bias, o), 1, 1, 1);
    }

    /// <summary>rnn.{l}: nn.LSTM weights weight_ih_l0 [4H, I], weight_hh_l0 [4H, H], bias_ih_l0 and bias_hh_l0 [4H] and
    /// their _reverse twins, stacked into ONNX's W [2, 4H, I], R [2, 4H, H], B [2, 8H] with the gate blocks reordered
    /// from PyTorch's i, f, g, o to ONNX's i, o, f, c; then embedding.weight [out, 2H] and bias [out].</summary>
    public Crnn.BiLstm BiLstm(int l, int input, int hidden)
    {
        int g4 = 4 * hidden;
        var wAll = new float[2 * g4 * input];
        var rAll = new float[2 * g4 * hidden];
        var bAll = new float[2 * 2 * g4];
        for (int d = 0; d < 2; d++)
        {
            string p = $"rnn.{l}.rnn.", sfx = d == 0 ? "_l0" : "_l0_reverse";
            Reorder(Host($"{p}weight_ih{sfx}", g4, input).Data, input, hidden, wAll.AsSpan(d * g4 * input));
            Reorder(Host($"{p}weight_hh{sfx}", g4, hidden).Data, hidden, hidden, rAll.AsSpan(d * g4 * hidden));
            Reorder(Host($"{p}bias_ih{sfx}", g4).Data, 1, hidden, bAll.AsSpan(d * 2 * g4));
            Reorder(Host($"{p}bias_hh{sfx}", g4).Data, 1, hidden, bAll.AsSpan(d * 2 * g4 + g4));
        }
        var (embW, embDims) = Host($"rnn.{l}.embedding.weight", -1, 2 * hidden);
        var (embB, _) = Host($"rnn.{l}.embedding.bias", embDims[0]);
        return new Crnn.BiLstm(Upload(wAll, 2, g4, input), Upload(rAll, 2, g4, hidden), Upload(bAll, 2, 2 * g4),
            Upload(embW, embDims), Upload(embB, embDims[0]));
    }

    // PyTorch's gate blocks i, f, g, o (rows of `cols` values each block of `hidden` rows) into ONNX's i, o, f, c.
    private static void Reorder(float[] src, int cols, int hidden, Span<float> dst)
    {
        int block = hidden * cols;
        ReadOnlySpan<int> fromTorch = [0, 3, 1, 2]; // ONNX block k comes from PyTorch block fromTorch[k]
        for (int k = 0; k < 4; k++) src.AsSpan(fromTorch[k] * block, block).CopyTo(dst[(k * block)..]);
    }
}
