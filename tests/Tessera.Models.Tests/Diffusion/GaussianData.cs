using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>Data whose every element is drawn from N(μ, c²): then x = α·x_0 + σ·ε is Gaussian too, the exact denoiser is
/// E[x_0 | x] = μ + k·(x - α·μ) with k = α·c²/(α²·c² + σ²), and the probability-flow ODE maps the standardised value
/// z = (x - α·μ)/√(α²·c² + σ²) unchanged from any σ to any other. Everything a sampler should produce is in closed form.</summary>
public sealed class GaussianData(NoisePath path, double mean, double std, double sigmaMax) : IDenoiser
{
    public double Mean { get; } = mean;
    public double Std { get; } = std;
    public int Calls { get; private set; }

    public NoisePath Path => path;
    public double SigmaMax => sigmaMax;

    public Tensor Denoise(Tensor x, double sigma)
    {
        Calls++;
        double k = Gain(sigma), alpha = path.Alpha(sigma);
        return x.Affine(k, Mean - k * alpha * Mean);
    }

    /// <summary>k(σ).</summary>
    public double Gain(double sigma)
    {
        double a = path.Alpha(sigma), c2 = Std * Std;
        return a * c2 / (a * a * c2 + sigma * sigma);
    }

    /// <summary>The marginal standard deviation of x at σ.</summary>
    public double MarginalStd(double sigma)
    {
        double a = path.Alpha(sigma);
        return Math.Sqrt(a * a * Std * Std + sigma * sigma);
    }

    /// <summary>The exact ODE solution at <paramref name="sigmaTo"/> from <paramref name="x"/> at <paramref name="sigmaFrom"/>.</summary>
    public double Flow(double x, double sigmaFrom, double sigmaTo)
    {
        double z = (x - path.Alpha(sigmaFrom) * Mean) / MarginalStd(sigmaFrom);
        return path.Alpha(sigmaTo) * Mean + MarginalStd(sigmaTo) * z;
    }

    /// <summary>What an exact ODE sampler returns on <paramref name="schedule"/> from unit noise <paramref name="noise"/>:
    /// the exact flow from σ_0 to the last nonzero σ, then (every sampler's last step) the denoiser there.</summary>
    public double ExactSample(double noise, SamplingSchedule schedule)
    {
        double s0 = schedule[0], last = schedule[schedule.Steps - 1];
        double x = Flow(s0 * noise, s0, last);
        double k = Gain(last);
        return Mean + k * (x - path.Alpha(last) * Mean);
    }
}
