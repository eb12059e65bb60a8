using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The MNIST classifier of agentzz1/transformer_poc (mnist_poc.py, class MNISTViT; mnist_vit.pth), built from
/// the shared layers as a test fixture: 7x7 patches (16 of them) -> linear 49 -> 32, plus learned positions; one post-LN
/// encoder layer (x = LN(x + MHA(x)), x = LN(x + FFN(x)), one head, nn.MultiheadAttention's packed in_proj, FFN 64 with
/// GELU); a final LayerNorm, the mean over tokens, and a linear to 10 classes. Input: pixels in [0, 1] normalised with
/// MNIST's mean 0.1307 and deviation 0.3081.</summary>
public sealed class MnistVit : IDisposable
{
    private const int Dim = 32, Tokens = 16, Patch = 7;
    private readonly WeightSet _weights;
    private readonly Linear _patch;
    private readonly Tensor _positions;
    private readonly MultiHeadAttention _attention;
    private readonly Mlp _ffn;
    private readonly LayerNorm _norm1, _norm2, _norm;
    private readonly Linear _classifier;

    public MnistVit(IBackend backend, string path, int heads = 1)
    {
        using var wb = WeightBuilder.Open(backend, path);
        (_patch, _positions, _attention, _ffn, _norm1, _norm2, _norm, _classifier, _weights) = Load(wb, heads);
    }

    /// <summary>Loads from a builder the caller made (for example over a quantizing weight source).</summary>
    public MnistVit(WeightBuilder wb, int heads = 1) =>
        (_patch, _positions, _attention, _ffn, _norm1, _norm2, _norm, _classifier, _weights) = Load(wb, heads);

    private static (Linear, Tensor, MultiHeadAttention, Mlp, LayerNorm, LayerNorm, LayerNorm, Linear, WeightSet) Load(WeightBuilder wb, int heads)
    {
        var patch = Linear.Load(wb.Pp("patch_embed.proj"), Patch * Patch, Dim);
        var positions = wb.Get("pos_embed", 1, Tokens, Dim);
        var layer = wb.Pp("encoder.0");
        var attention = MultiHeadAttention.Load(layer.Pp("attn"), new AttentionConfig(Dim, heads) { Names = AttentionNames.TorchPacked });
        var ffn = Mlp.Load(layer.Pp("ffn"), Dim, 64, Activation.Gelu);
        var norm1 = LayerNorm.Load(layer.Pp("norm1"), Dim);
        var norm2 = LayerNorm.Load(layer.Pp("norm2"), Dim);
        var norm = LayerNorm.Load(wb.Pp("norm"), Dim);
        var classifier = Linear.Load(wb.Pp("classifier"), Dim, 10);
        return (patch, positions, attention, ffn, norm1, norm2, norm, classifier, wb.Commit());
    }

    /// <summary>The pooled features [B, 32] (the final LayerNorm, then the mean over tokens) of images [B, 1, 28, 28].</summary>
    public Tensor Features(Tensor pixels)
    {
        using var scope = TensorScope.Begin();
        int batch = pixels.Dim(0);
        var x = pixels.Affine(1 / 0.3081, -0.1307 / 0.3081);
        // unfold(2, 7, 7).unfold(3, 7, 7): [B, 1, 4, 7, 4, 7] -> [B, 4, 4, 7, 7] -> [B, 16, 49].
        var patches = x.Reshape(batch, 4, Patch, 4, Patch).Permute(0, 1, 3, 2, 4).Contiguous().Reshape(batch, Tokens, Patch * Patch);
        var h = _patch.Forward(patches) + _positions;
        h = _norm1.Forward(_attention.Forward(h, residual: h));
        h = _norm2.Forward(_ffn.Forward(h, residual: h));
        return scope.Keep(_norm.Forward(h).Mean(1));
    }

    /// <summary>Class probabilities [B, 10] for images [B, 1, 28, 28] with pixels in [0, 1].</summary>
    public Tensor Probabilities(Tensor pixels)
    {
        using var scope = TensorScope.Begin();
        var pooled = Features(pixels);
        return scope.Keep(_classifier.Forward(pooled).Softmax());
    }

    public void Dispose() => _weights.Dispose();
}
