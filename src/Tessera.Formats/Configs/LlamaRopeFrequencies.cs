using System.Globalization;

namespace Tessera.Formats.Configs;

/// <summary>The RoPE inverse frequencies of a LLaMA-family decoder, <c>theta^(-2i/d)</c> for each rotated pair i, with
/// the config's <c>rope_scaling</c> applied: "linear" divides every frequency by the factor (position interpolation),
/// "llama3" is Meta's frequency-dependent rule (Llama 3.1's <c>apply_scaling</c>: wavelengths shorter than
/// original_max_position_embeddings / high_freq_factor keep their frequency, longer than .. / low_freq_factor are divided
/// by the factor, and those between blend smoothly). llama.cpp stores the Llama 3 rule as per-pair divisors, the
/// tensor <c>rope_freqs.weight</c>: <see cref="Llama3Divisors"/> gives them.</summary>
public static class LlamaRopeFrequencies
{
    /// <summary>The scaling kinds built here ("default" is none).</summary>
    public static IReadOnlyList<string> SupportedKinds { get; } = ["default", "linear", "llama3"];

    /// <summary>Inverse frequencies [rotaryDim/2] for the config's theta and scaling. Throws <see cref="ConfigException"/>
    /// (naming the key) for a scaling kind not supported or parameters out of range.</summary>
    public static double[] Compute(LlamaConfig config, int rotaryDim)
    {
        ArgumentNullException.ThrowIfNull(config);
        var freqs = Unscaled(config.RopeTheta, rotaryDim);
        if (config.RopeScaling is not { } s) return freqs;
        switch (s.Kind)
        {
            case "default":
                return freqs;
            case "linear":
                {
                    double factor = Positive(s.Factor, "factor");
                    for (int i = 0; i < freqs.Length; i++) freqs[i] /= factor;
                    return freqs;
                }
            case "llama3":
                {
                    var div = Llama3Divisors(config, rotaryDim);
                    for (int i = 0; i < freqs.Length; i++) freqs[i] /= div[i];
                    return freqs;
                }
            default:
                throw new ConfigException(LlamaConfig.FileName, "rope_scaling.rope_type",
                    $"is '{s.Kind}'; the decoder builds {string.Join(", ", SupportedKinds)} (others would attend at wrong angles)");
        }
    }

    /// <summary><c>theta^(-2i/rotaryDim)</c> for i in [0, rotaryDim/2), computed as <see cref="RopeTables.Build1D"/> does.</summary>
    public static double[] Unscaled(double theta, int rotaryDim)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new TesseraException($"rotary dimension must be even and positive, got {rotaryDim}");
        if (!(theta > 1)) throw new ConfigException(LlamaConfig.FileName, "rope_theta", $"is {theta.ToString(CultureInfo.InvariantCulture)}, expected a number above 1");
        var f = new double[rotaryDim / 2];
        for (int i = 0; i < f.Length; i++) f[i] = Math.Pow(theta, -2.0 * i / rotaryDim);
        return f;
    }

    /// <summary>Llama 3's per-pair divisors (1 for short wavelengths, factor for long ones, a blend between), as
    /// llama.cpp's converter writes them into <c>rope_freqs.weight</c>.</summary>
    public static double[] Llama3Divisors(LlamaConfig config, int rotaryDim)
    {
        ArgumentNullException.ThrowIfNull(config);
        var s = config.RopeScaling ?? throw new ConfigException(LlamaConfig.FileName, "rope_scaling", "is missing; Llama 3 scaling needs it");
        double factor = Positive(s.Factor, "factor");
        double low = Positive(s.LowFreqFactor, "low_freq_factor"), high = Positive(s.HighFreqFactor, "high_freq_factor");
        if (!(high > low))
            throw new ConfigException(LlamaConfig.FileName, "rope_scaling.high_freq_factor", $"is {high}, expected more than low_freq_factor {low}");
        double original = s.OriginalMaxPositionEmbeddings is > 0 and int o ? o
            : throw new ConfigException(LlamaConfig.FileName, "rope_scaling.original_max_position_embeddings", $"is {Text(s.OriginalMaxPositionEmbeddings)}, expected a positive integer");
        double lowWavelen = original / low, highWavelen = original / high;
        var freqs = Unscaled(config.RopeTheta, rotaryDim);
        var div = new double[freqs.Length];
        for (int i = 0; i < freqs.Length; i++)
        {
            double wavelen = 2 * Math.PI / freqs[i];
            if (wavelen < highWavelen) div[i] = 1;
            else if (wavelen > lowWavelen) div[i] = factor;
            else
            {
                double smooth = (original / wavelen - low) / (high - low);
                div[i] = 1 / ((1 - smooth) / factor + smooth);
            }
        }
        return div;
    }

    private static double Positive(double? v, string key) => v is > 0 and double x && double.IsFinite(x) ? x
        : throw new ConfigException(LlamaConfig.FileName, "rope_scaling." + key, $"is {Text(v)}, expected a positive number");

    private static string Text<T>(T? v) where T : struct, IFormattable => v is { } x ? x.ToString(null, CultureInfo.InvariantCulture) : "missing";
}
