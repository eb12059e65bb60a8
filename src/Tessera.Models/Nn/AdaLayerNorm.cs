using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>DiT's adaptive LayerNorm (adaLN-Zero): a conditioning vector c [B, condDim] goes through SiLU and one linear
/// to Chunks x D modulation values per sample (6 in a DiT block: shift, scale, gate for attention, then for the MLP;
/// 2 in the final layer: shift, scale). <see cref="Modulate"/> is norm(x) * (1 + scale) + shift over a LayerNorm
/// without affine parameters; <see cref="GatedAdd"/> is x + gate * y.</summary>
/// <param name="Linear">condDim -> Chunks * Dim.</param>
/// <param name="Chunks">Modulation vectors produced (6 or 2).</param>
/// <param name="Eps">The LayerNorm's epsilon (DiT: 1e-6).</param>
public sealed record AdaLayerNorm(Linear Linear, int Chunks = 6, float Eps = 1e-6f)
{
    /// <summary>The modulated width.</summary>
    public int Dim => Linear.OutFeatures / Chunks;

    /// <summary>Loads the modulation linear [chunks * dim, condDim] ("adaLN_modulation.1" in DiT: index 1 of
    /// Sequential(SiLU, Linear); diffusers' AdaLayerNormZero calls it "linear").</summary>
    public static AdaLayerNorm Load(WeightBuilder wb, int dim, int condDim, int chunks = 6, float eps = 1e-6f, string linear = "adaLN_modulation.1")
    {
        ArgumentNullException.ThrowIfNull(wb);
        if (chunks <= 0) throw new TesseraException($"adaLN {wb.FullName(linear)}: chunks must be positive, got {chunks}");
        return new AdaLayerNorm(Linear.Load(wb.Pp(linear), condDim, chunks * dim), chunks, eps);
    }

    /// <summary>The modulation vectors for conditioning c [B, condDim].</summary>
    public AdaLnModulation Forward(Tensor c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Rank != 2) throw new TesseraException($"adaLN: the conditioning must be [B, {Linear.InFeatures}], got {c.Shape}");
        using var s = c.Silu();
        return new AdaLnModulation(Linear.Forward(s), Chunks);
    }

    /// <summary>LayerNorm(x) * (1 + scale) + shift for x [B, S, D], shift and scale [B, 1, D] (from <see cref="AdaLnModulation"/>).</summary>
    public Tensor Modulate(Tensor x, Tensor shift, Tensor scale)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var n = x.LayerNorm(null, null, Eps);
        using var onePlus = scale.Affine(1, 1);
        using var scaled = n * onePlus;
        return scaled + shift;
    }

    /// <summary>x + gate * y (the gated residual of a DiT block), gate [B, 1, D].</summary>
    public static Tensor GatedAdd(Tensor x, Tensor gate, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(y);
        using var g = gate * y;
        return x + g;
    }
}

/// <summary>The modulation vectors of one <see cref="AdaLayerNorm.Forward"/> call: chunk i is [B, 1, D], in the order
/// the checkpoint's linear produces them (DiT block: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp;
/// final layer: shift, scale). Disposing it releases them all.</summary>
public sealed class AdaLnModulation : IDisposable
{
    private readonly Tensor _all;
    private readonly Tensor[] _chunks;

    internal AdaLnModulation(Tensor all, int chunks)
    {
        _all = all;
        int d = all.Dim(1) / chunks;
        using var v = all.Reshape(all.Dim(0), 1, all.Dim(1));
        _chunks = new Tensor[chunks];
        for (int i = 0; i < chunks; i++) _chunks[i] = v.Narrow(2, i * d, d);
    }

    /// <summary>Chunk i [B, 1, D].</summary>
    public Tensor this[int i] => _chunks[i];

    /// <summary>Chunks held.</summary>
    public int Count => _chunks.Length;

    /// <summary>DiT block chunk 0 / final layer chunk 0.</summary>
    public Tensor ShiftMsa => _chunks[0];
    /// <summary>DiT block chunk 1 / final layer chunk 1.</summary>
    public Tensor ScaleMsa => _chunks[1];
    /// <summary>DiT block chunk 2.</summary>
    public Tensor GateMsa => _chunks[2];
    /// <summary>DiT block chunk 3.</summary>
    public Tensor ShiftMlp => _chunks[3];
    /// <summary>DiT block chunk 4.</summary>
    public Tensor ScaleMlp => _chunks[4];
    /// <summary>DiT block chunk 5.</summary>
    public Tensor GateMlp => _chunks[5];

    /// <summary>Releases the chunks and the linear's output.</summary>
    public void Dispose()
    {
        foreach (var c in _chunks) c.Dispose();
        _all.Dispose();
    }
}
