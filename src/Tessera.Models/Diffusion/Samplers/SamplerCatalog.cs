using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>A sampler chosen by name, with whether its name asks for Karras sigmas ("dpmpp_2m_karras").</summary>
public sealed record SamplerChoice(Sampler Sampler, bool KarrasSigmas);

/// <summary>The samplers by name, and the step arithmetic they share.</summary>
public static class SamplerCatalog
{
    /// <summary>The names <see cref="Create"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["ddpm", "ddim", "euler", "euler_a", "heun", "dpmpp_2m", "dpmpp_2m_karras", "dpmpp_2s_a", "lcm", "flow_euler"];

    /// <summary>The sampler called <paramref name="name"/> ('-' and '_' alike); <paramref name="eta"/> is DDIM's η
    /// (default 0) or the ancestral samplers' noise fraction (default 1).</summary>
    public static SamplerChoice Create(string name, double? eta = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant().Replace('-', '_') switch
        {
            "ddpm" => new(new DdpmSampler(), false),
            "ddim" => new(new AncestralSampler(eta ?? 0, "ddim"), false),
            "euler" or "flow_euler" or "flow_match_euler" => new(new EulerSampler(), false),
            "euler_a" or "euler_ancestral" => new(new AncestralSampler(eta ?? 1), false),
            "heun" => new(new HeunSampler(), false),
            "dpmpp_2m" => new(new DpmPp2MSampler(), false),
            "dpmpp_2m_karras" => new(new DpmPp2MSampler(), true),
            "dpmpp_2s_a" or "dpmpp_2s_ancestral" => new(new DpmPp2SAncestralSampler(eta ?? 1), false),
            "lcm" => new(new LcmSampler(), false),
            _ => throw new TesseraException($"unknown sampler '{name}': expected one of {string.Join(", ", Names)}"),
        };
    }

    /// <summary>ca·a + cb·b as a new tensor.</summary>
    public static Tensor Combine(Tensor a, double ca, Tensor b, double cb)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var sa = a.Affine(ca);
        using var sb = b.Affine(cb);
        return sa + sb;
    }

    /// <summary>The first-order (DDIM, η = 0) move of x at σ, whose denoised estimate is D, to the point with data
    /// coefficient <paramref name="alphaTo"/> and noise <paramref name="sigmaTo"/>: αTo·D + σTo·ε̂ with
    /// ε̂ = (x - α(σ)·D)/σ, the noise the model sees in x.</summary>
    public static Tensor MoveTo(NoisePath path, Tensor x, Tensor denoised, double sigma, double alphaTo, double sigmaTo) =>
        Combine(x, sigmaTo / sigma, denoised, alphaTo - sigmaTo * path.Alpha(sigma) / sigma);

    /// <summary>The ancestral split of a step from σ to σ' (the DDIM paper's σ_t(η), eq. 16, for any α): the fresh noise
    /// σ_up = η·σ'·√(1 - SNR(σ)/SNR(σ')), at most σ', and the deterministic part σ_down = √(σ'² - σ_up²). η = 1 is the
    /// exact posterior q(x_σ' | x_σ, x_0) of DDPM; on the variance-exploding path it is k-diffusion's get_ancestral_step.</summary>
    public static (double Down, double Up) AncestralSplit(NoisePath path, double sigma, double sigmaNext, double eta)
    {
        if (sigmaNext == 0 || eta == 0) return (sigmaNext, 0);
        double ratio = path.Alpha(sigma) * sigmaNext / (path.Alpha(sigmaNext) * sigma); // √(SNR(σ)/SNR(σ'))
        double up = Math.Min(sigmaNext, eta * sigmaNext * Math.Sqrt(Math.Max(0, 1 - ratio * ratio)));
        return (Math.Sqrt(Math.Max(0, sigmaNext * sigmaNext - up * up)), up);
    }

    /// <summary>x + c·(fresh unit noise), disposing nothing.</summary>
    public static Tensor AddNoise(SamplerRun run, Tensor x, double scale)
    {
        using var z = run.Noise(x);
        return Combine(x, 1, z, scale);
    }

    /// <summary>e^x - 1 without the cancellation of Exp(x) - 1 for small x (Kahan's trick).</summary>
    public static double ExpM1(double x)
    {
        if (double.IsNegativeInfinity(x)) return -1;
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1;
        return double.IsPositiveInfinity(u) ? u : um1 * x / Math.Log(u);
    }
}
