using Tessera.Cpu;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The deterministic samplers on Gaussian data, whose exact denoiser and exact ODE solution are known
/// (<see cref="GaussianData"/>): each converges to the analytic solution at its stated order as the steps double, the
/// slope of log error against log steps measured on the variance-exploding path (Karras sigmas, EDM's 80 .. 0.002) and
/// on the rectified-flow path (SD3's shifted sigmas, from pure noise at σ = 1).</summary>
public sealed class SamplerConvergenceTests(ITestOutputHelper output) : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 1));
    private static readonly int[] s_steps = [16, 32, 64, 128];

    public void Dispose() => _cpu.Dispose();

    public static TheoryData<string, double, double> Cases => new()
    {
        // sampler, lowest and highest slope accepted around its order
        { "euler", 0.85, 1.3 },
        { "ddim", 0.85, 1.3 },
        { "heun", 1.7, 2.8 },
        { "dpmpp_2m", 1.7, 2.8 },
        { "dpmpp_2s", 1.7, 2.8 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvergesAtItsOrderOnTheVarianceExplodingPath(string name, double lo, double hi)
    {
        var data = new GaussianData(NoisePath.VarianceExploding, mean: 0.3, std: 0.5, sigmaMax: 80);
        double slope = Slope(name, data, n => new SamplingSchedule(KarrasSigmas.Sigmas(n, 0.002, 80)));
        Assert.InRange(slope, lo, hi);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvergesAtItsOrderOnTheFlowPath(string name, double lo, double hi)
    {
        var data = new GaussianData(NoisePath.RectifiedFlow, mean: 0.3, std: 0.5, sigmaMax: 1);
        double slope = Slope(name, data, n => new SamplingSchedule(FlowMatchSigmas.Sigmas(n, shift: 3)));
        Assert.InRange(slope, lo, hi);
    }

    [Fact]
    public void DeterministicDdimIsEulerAndDdpmIsAncestralEulerStepForStep()
    {
        foreach (var path in new[] { NoisePath.VarianceExploding, NoisePath.RectifiedFlow })
        {
            var data = new GaussianData(path, 0.3, 0.5, path.MaxSigma());
            var schedule = path == NoisePath.RectifiedFlow
                ? new SamplingSchedule(FlowMatchSigmas.Sigmas(12, 3))
                : DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear).Schedule(12, TimestepSpacing.Trailing);
            var noise = Noise(4096, seed: 5);
            float[] euler = Run(new EulerSampler(), data, noise, schedule, null);
            float[] ddim = Run(new AncestralSampler(0, "ddim"), data, noise, schedule, null);
            Assert.True(MaxDiff(euler, ddim) < 2e-5, $"{path}: Euler and DDIM(eta 0) differ by {MaxDiff(euler, ddim)}");
            // Two derivations of one step: DDPM's posterior (Kingma et al.'s form) and DDIM with eta 1 (Song et al.'s).
            float[] ddpm = Run(new DdpmSampler(), data, noise, schedule, new GaussianNoise(9));
            float[] ancestral = Run(new AncestralSampler(1), data, noise, schedule, new GaussianNoise(9));
            Assert.True(MaxDiff(ddpm, ancestral) < 2e-5, $"{path}: DDPM and DDIM(eta 1) differ by {MaxDiff(ddpm, ancestral)}");
        }
    }

    [Fact]
    public void DdimMatchesTheAnalyticSolutionOnADdpmModelsOwnTimesteps()
    {
        // A real DDPM schedule (linear betas, T = 1000) at 50 leading timesteps: DDIM's error is first order in the step,
        // a fraction of the data's spread (max over 256 draws, tails included), and it halves when the steps double.
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var data = new GaussianData(NoisePath.VarianceExploding, 0.3, 0.5, table.SigmaMax);
        double e50 = Error(new AncestralSampler(0, "ddim"), data, table.Schedule(50, TimestepSpacing.Leading, 1));
        double e100 = Error(new AncestralSampler(0, "ddim"), data, table.Schedule(100, TimestepSpacing.Leading, 1));
        output.WriteLine($"DDIM max error: 50 steps {e50:E3}, 100 steps {e100:E3}");
        Assert.True(e50 < 0.3 * data.Std, $"50 steps: {e50}");
        Assert.InRange(e50 / e100, 1.6, 2.6);
    }

    private double Slope(string name, GaussianData data, Func<int, SamplingSchedule> schedule)
    {
        var sampler = name == "dpmpp_2s" ? new DpmPp2SAncestralSampler(eta: 0) : SamplerCatalog.Create(name).Sampler;
        var errors = s_steps.Select(n => Error(sampler, data, schedule(n))).ToArray();
        // Least-squares slope of -log(error) against log(steps).
        double[] lx = [.. s_steps.Select(n => Math.Log(n))], ly = [.. errors.Select(e => -Math.Log(e))];
        double mx = lx.Average(), my = ly.Average();
        double slope = lx.Zip(ly).Sum(p => (p.First - mx) * (p.Second - my)) / lx.Sum(v => (v - mx) * (v - mx));
        output.WriteLine($"{name} {data.Path}: errors {string.Join(", ", errors.Select(e => e.ToString("E2")))} at {string.Join("/", s_steps)} steps: slope {slope:F2}");
        return slope;
    }

    private double Error(Sampler sampler, GaussianData data, SamplingSchedule schedule)
    {
        var noise = Noise(256, seed: 1);
        float[] got = Run(sampler, data, noise, schedule, null);
        double worst = 0;
        for (int i = 0; i < noise.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - data.ExactSample(noise[i], schedule)));
        return worst;
    }

    private float[] Run(Sampler sampler, IDenoiser denoiser, float[] noise, SamplingSchedule schedule, GaussianNoise? random)
    {
        using var x = Tensor.FromArray(_cpu, noise, noise.Length);
        using var y = sampler.Sample(denoiser, x, schedule, random);
        return y.ToFloatArray();
    }

    internal static float[] Noise(int count, ulong seed)
    {
        var v = new float[count];
        new GaussianNoise(seed).Fill(v);
        return v;
    }

    internal static double MaxDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
}
