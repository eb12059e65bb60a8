using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The noise predictor of VishalJ99/diffusion_model_cw (src/models.py, class CNN; checkpoint
/// ddpm_mnist.pth under the prefix "gt."), built from the shared layers as a test fixture: four blocks of 7x7 conv ->
/// LayerNorm -> GELU (16, 32, 32, 16 channels; the checkpoint's LayerNorm weights are [28, 28], so each channel's 28x28
/// map is normalised on its own), a 3x3 conv back to one channel, and the time t/T added after the first block as
/// MLP(sin(t f), cos(t f) - 1) over the 16 stored frequencies f (0, then 2π·1.5^i). It predicts ε for MNIST scaled to
/// [-0.5, 0.5] (ToTensor, then Normalize(0.5, 1)) on linear betas 1e-4 .. 0.02 stored as 1001 entries beta_t[0..1000].</summary>
public sealed class MnistDdpmNetwork : IDisposable
{
    private const int Side = 28;
    private readonly WeightSet _weights;
    private readonly (Tensor Weight, Tensor Bias, LayerNorm Norm)[] _blocks;
    private readonly Tensor _outWeight, _outBias;
    private readonly Linear[] _timeMlp;
    private readonly Tensor _frequencies;

    public MnistDdpmNetwork(IBackend backend, string path)
    {
        using var root = WeightBuilder.Open(backend, path);
        Betas = root.GetHost("beta_t", 1001);
        AlphaBars = root.GetHost("alpha_t", 1001);
        var wb = root.Pp("gt");
        int[] channels = [1, 16, 32, 32, 16];
        _blocks = new (Tensor, Tensor, LayerNorm)[4];
        for (int i = 0; i < 4; i++)
        {
            var b = wb.Pp("blocks").Pp(i).Pp("net");
            var norm = b.Pp(1);
            using var w = norm.GetAs("weight", DType.F32, Side, Side);
            using var bias = norm.GetAs("bias", DType.F32, Side, Side);
            _blocks[i] = (b.Pp(0).Get("weight", channels[i + 1], channels[i], 7, 7), b.Pp(0).Get("bias", channels[i + 1]),
                new LayerNorm(root.Own(w.Reshape(Side * Side)), root.Own(bias.Reshape(Side * Side))));
        }
        _outWeight = wb.Get("blocks.4.weight", 1, 16, 3, 3);
        _outBias = wb.Get("blocks.4.bias", 1);
        _timeMlp = [Linear.Load(wb.Pp("time_embed.0"), 32, 128), Linear.Load(wb.Pp("time_embed.2"), 128, 128),
            Linear.Load(wb.Pp("time_embed.4"), 128, 128), Linear.Load(wb.Pp("time_embed.6"), 128, 16)];
        _frequencies = wb.GetAs("frequencies", DType.F32, 16);
        _weights = root.Commit();
    }

    /// <summary>beta_t[0..1000] as stored.</summary>
    public float[] Betas { get; }

    /// <summary>alpha_t[0..1000] (the cumulative products ᾱ) as stored.</summary>
    public float[] AlphaBars { get; }

    /// <summary>ε̂ for x [B, 1, 28, 28] at network time <paramref name="time"/> (t/T in [0, 1]).</summary>
    public Tensor Forward(Tensor x, double time)
    {
        using var scope = TensorScope.Begin();
        int batch = x.Dim(0);
        var h = Block(0, x);
        var t = Tensor.Full(x.Backend, DType.F32, new Shape(batch, 1), time);
        var phase = t * _frequencies.Reshape(1, 16);
        var features = Tensor.Concat(1, phase.Sin(), phase.Cos().Affine(1, -1));          // [B, 32]
        for (int i = 0; i < 3; i++) features = _timeMlp[i].Forward(features).Gelu();
        features = _timeMlp[3].Forward(features);                                           // [B, 16]
        h = h + features.Reshape(batch, 16, 1, 1);
        for (int i = 1; i < 4; i++) h = Block(i, h);
        return scope.Keep(h.Conv2d(_outWeight, _outBias, Conv2dParams.Square(padding: 1)));
    }

    private Tensor Block(int i, Tensor x)
    {
        var (w, b, norm) = _blocks[i];
        var c = x.Conv2d(w, b, Conv2dParams.Square(padding: 3));
        int batch = c.Dim(0), ch = c.Dim(1);
        return norm.Forward(c.Reshape(batch, ch, Side * Side)).Gelu().Reshape(batch, ch, Side, Side);
    }

    public void Dispose() => _weights.Dispose();
}
