using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>A diffusion model's timestep embedding: the sinusoidal features of diffusers' get_timestep_embedding
/// (DiT's TimestepEmbedder is flip_sin_to_cos = true, downscale_freq_shift = 0), then linear -> SiLU -> linear.</summary>
/// <param name="Linear1">Frequency features -> hidden (SiLU in its epilogue).</param>
/// <param name="Linear2">Hidden -> hidden.</param>
/// <param name="FrequencyDim">Sinusoidal features per timestep.</param>
/// <param name="FlipSinToCos">cos features first (DiT, SD) instead of sin first.</param>
/// <param name="DownscaleFreqShift">Frequencies exp(-ln(MaxPeriod) i / (half - shift)): 1 in diffusers' default, 0 in DiT.</param>
/// <param name="MaxPeriod">The slowest period.</param>
public sealed record TimestepEmbedding(Linear Linear1, Linear Linear2, int FrequencyDim, bool FlipSinToCos = true,
    double DownscaleFreqShift = 0, double MaxPeriod = 10000)
{
    /// <summary>Loads "linear_1" [hidden, frequencyDim] and "linear_2" [hidden, hidden] (diffusers' names; DiT's original
    /// checkpoints call them "mlp.0" and "mlp.2").</summary>
    public static TimestepEmbedding Load(WeightBuilder wb, int frequencyDim, int hidden, bool flipSinToCos = true,
        double downscaleFreqShift = 0, double maxPeriod = 10000, string linear1 = "linear_1", string linear2 = "linear_2")
    {
        ArgumentNullException.ThrowIfNull(wb);
        return new TimestepEmbedding(Linear.Load(wb.Pp(linear1), frequencyDim, hidden), Linear.Load(wb.Pp(linear2), hidden, hidden),
            frequencyDim, flipSinToCos, downscaleFreqShift, maxPeriod);
    }

    /// <summary>Embeds timesteps [B] (f32, fractional allowed) into [B, hidden].</summary>
    public Tensor Forward(Tensor timesteps)
    {
        using var f = Sinusoidal(timesteps, FrequencyDim, FlipSinToCos, DownscaleFreqShift, MaxPeriod);
        using var h = Linear1.Forward(f, new MatMulEpilogue(Activation: Activation.Silu));
        return Linear2.Forward(h);
    }

    /// <summary>diffusers' get_timestep_embedding of timesteps [B] (f32): [B, dim] = [sin(t f_i), cos(t f_i)] over
    /// f_i = exp(-ln(maxPeriod) i / (dim/2 - shift)) for i &lt; dim/2; cos first when
    /// <paramref name="flipSinToCos"/>; a zero column appended when dim is odd.</summary>
    public static Tensor Sinusoidal(Tensor timesteps, int dim, bool flipSinToCos = true, double downscaleFreqShift = 0, double maxPeriod = 10000)
    {
        ArgumentNullException.ThrowIfNull(timesteps);
        if (timesteps.Rank != 1 || timesteps.DType != DType.F32)
            throw new TesseraException($"timestep embedding: timesteps must be f32 [B], got {timesteps.DType.Name()} {timesteps.Shape}");
        int half = dim / 2;
        if (half < 1 || half - downscaleFreqShift <= 0)
            throw new TesseraException($"timestep embedding: dim {dim} with frequency shift {downscaleFreqShift} leaves no frequencies");
        var freqs = new float[half];
        for (int i = 0; i < half; i++) freqs[i] = (float)Math.Exp(-Math.Log(maxPeriod) * i / (half - downscaleFreqShift));
        var backend = timesteps.Backend;
        int b = timesteps.Dim(0);
        using var f = Tensor.FromArray(backend, freqs, 1, half);
        using var t = timesteps.Unsqueeze(1);
        using var args = t * f;                                                     // [B, half]
        using var sin = args.Map(UnaryOp.Sin);
        using var cos = args.Map(UnaryOp.Cos);
        var (first, second) = flipSinToCos ? (cos, sin) : (sin, cos);
        if (dim % 2 == 0) return Tensor.Concat(1, first, second);
        using var pad = Tensor.Zeros(backend, DType.F32, new Shape(b, 1));
        return Tensor.Concat(1, first, second, pad);
    }
}
