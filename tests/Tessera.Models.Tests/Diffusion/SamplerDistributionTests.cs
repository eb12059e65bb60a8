using Tessera.Cpu;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The stochastic samplers on Gaussian data N(μ, c²). With the exact denoiser E[x_0 | x] an ancestral sampler's
/// draws are Gaussian with a variance that falls short of c² by a first-order error in the step (it ignores the spread of
/// x_0 given x): measured at 25, 100 and 400 steps, the shortfall must shrink toward zero and the law approach N(μ, c²)
/// (mean, standard deviation, the normal CDF at five points; 50,000 draws, fixed seeds). LCM is exact at any step count
/// given a consistency function (the ODE's end point), so it is held to the law at 4 steps.</summary>
public sealed class SamplerDistributionTests(ITestOutputHelper output) : IDisposable
{
    private const int Draws = 50_000;
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));

    public void Dispose() => _cpu.Dispose();

    public static TheoryData<string, string> Cases => new()
    {
        { "euler_a", "ve" }, { "ddpm", "ve" }, { "ddim_eta_0.5", "ve" }, { "dpmpp_2s_a", "ve" },
        { "euler_a", "flow" }, { "ddpm", "flow" }, { "dpmpp_2s_a", "flow" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void DrawsApproachTheDataDistributionAsStepsGrow(string name, string path)
    {
        Sampler sampler = name == "ddim_eta_0.5" ? new AncestralSampler(0.5, "ddim") : SamplerCatalog.Create(name).Sampler;
        var data = Data(path);
        var shortfall = new List<double>();
        float[] x = [];
        foreach (int steps in new[] { 25, 100, 400 })
        {
            x = Draw(sampler, data, Schedule(path, steps), seed: 11);
            var (mean, std) = Moments(x);
            output.WriteLine($"{name} {path} {steps} steps: mean {mean:F4} (0.3), std {std:F4} (0.5)");
            // The standard error of the mean is 0.5/sqrt(5e4) = 0.0022.
            Assert.InRange(mean, 0.3 - 0.01, 0.3 + 0.01);
            shortfall.Add(0.5 - std);
        }
        Assert.True(shortfall[2] < 0.015, $"std short of 0.5 by {shortfall[2]:F4} at 400 steps");
        Assert.True(shortfall[0] > 3 * Math.Abs(shortfall[2]) && shortfall[0] > shortfall[1], $"the shortfall does not shrink: {string.Join(", ", shortfall)}");
        AssertNormalLaw(x, 0.3, 0.5, 0.012);
    }

    [Theory]
    [InlineData("ve")]
    [InlineData("flow")]
    public void LcmOnAConsistencyFunctionDrawsTheDataDistributionInFourSteps(string path)
    {
        var data = Data(path);
        var consistency = new ConsistencyFunction(data);
        var schedule = path == "ve" ? new SamplingSchedule(KarrasSigmas.Sigmas(4, 0.002, 80)) : new SamplingSchedule(FlowMatchSigmas.Sigmas(4, 3));
        float[] x = Draw(new LcmSampler(), consistency, schedule, seed: 5);
        var (mean, std) = Moments(x);
        output.WriteLine($"lcm {path}: mean {mean:F4} std {std:F4}");
        Assert.InRange(mean, 0.3 - 0.01, 0.3 + 0.01);
        Assert.InRange(std, 0.5 - 0.006, 0.5 + 0.006);
        AssertNormalLaw(x, 0.3, 0.5, 0.006);
    }

    /// <summary>f(x, σ) = the probability-flow ODE's end point, what a consistency model learns.</summary>
    private sealed class ConsistencyFunction(GaussianData data) : IDenoiser
    {
        public NoisePath Path => data.Path;
        public double SigmaMax => data.SigmaMax;
        public Tensor Denoise(Tensor x, double sigma)
        {
            double k = data.Std / data.MarginalStd(sigma);
            return x.Affine(k, data.Mean - k * data.Path.Alpha(sigma) * data.Mean);
        }
    }

    private static GaussianData Data(string path) => path == "ve"
        ? new GaussianData(NoisePath.VarianceExploding, 0.3, 0.5, 80)
        : new GaussianData(NoisePath.RectifiedFlow, 0.3, 0.5, 1);

    private static SamplingSchedule Schedule(string path, int steps) => path == "ve"
        ? new SamplingSchedule(KarrasSigmas.Sigmas(steps, 0.002, 80))
        : new SamplingSchedule(FlowMatchSigmas.Sigmas(steps, 3));

    private static (double Mean, double Std) Moments(float[] x)
    {
        double mean = x.Average(v => (double)v);
        return (mean, Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1)));
    }

    private static void AssertNormalLaw(float[] x, double mu, double c, double tolerance)
    {
        foreach (double q in new[] { -1.5, -0.5, 0, 0.5, 1.5 })
        {
            double expected = NormalCdf(q), seen = x.Count(v => v < mu + c * q) / (double)x.Length;
            Assert.True(Math.Abs(seen - expected) < tolerance, $"P(x < mu + {q} c) = {seen:F4}, the normal law says {expected:F4}");
        }
    }

    [Fact]
    public void TheSameSeedGivesTheSameDrawsAndAnotherSeedOthers()
    {
        var data = new GaussianData(NoisePath.VarianceExploding, 0.3, 0.5, 80);
        var schedule = new SamplingSchedule(KarrasSigmas.Sigmas(10, 0.002, 80));
        foreach (string name in new[] { "euler_a", "ddpm", "dpmpp_2s_a", "lcm" })
        {
            var sampler = SamplerCatalog.Create(name).Sampler;
            float[] a = Draw(sampler, data, schedule, 3, count: 1000), b = Draw(sampler, data, schedule, 3, count: 1000);
            float[] c = Draw(sampler, data, schedule, 4, count: 1000);
            Assert.Equal(a, b);
            Assert.NotEqual(a, c);
        }
        // The generator itself is fixed: these are its first values for seed 0, whatever the .NET version.
        var g = new GaussianNoise(0);
        double first = g.NextGaussian(), second = g.NextGaussian();
        var again = new GaussianNoise(0);
        Assert.Equal(first, again.NextGaussian());
        Assert.Equal(second, again.NextGaussian());
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void GaussianNoiseIsStandardNormal()
    {
        var v = new float[Draws];
        new GaussianNoise(123).Fill(v); // 50,000 values
        double mean = v.Average(x => (double)x), var = v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1);
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(var, 0.99, 1.01);
        Assert.InRange(v.Count(x => x < -1.96f) / (double)v.Length, 0.0225, 0.0275);
    }

    private float[] Draw(Sampler sampler, IDenoiser data, SamplingSchedule schedule, ulong seed, int count = Draws)
    {
        var noise = new GaussianNoise(seed);
        using var x = noise.Next(_cpu, new Shape(count));
        using var y = sampler.Sample(data, x, schedule, noise);
        return y.ToFloatArray();
    }

    // Φ(q) through erf's Abramowitz-Stegun 7.1.26 approximation (error under 1.5e-7).
    private static double NormalCdf(double q)
    {
        double z = Math.Abs(q) / Math.Sqrt(2), t = 1 / (1 + 0.3275911 * z);
        double erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-z * z);
        return 0.5 * (1 + Math.Sign(q) * erf);
    }
}
