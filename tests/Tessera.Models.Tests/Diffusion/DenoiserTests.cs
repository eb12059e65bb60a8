using Tessera.Cpu;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The model adapters: an ε-, v- or x_0-predicting network that is exact for Gaussian data, seen through
/// <see cref="DiscreteModelDenoiser"/>, must be the exact denoiser; likewise an exact flow-velocity network through
/// <see cref="FlowModelDenoiser"/>. Classifier-free guidance of two exact denoisers samples the Gaussian whose mean is
/// guided; and bad calls are refused with the reason.</summary>
public sealed class DenoiserTests : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 1));

    public void Dispose() => _cpu.Dispose();

    [Theory]
    [InlineData(PredictionType.Epsilon)]
    [InlineData(PredictionType.V)]
    [InlineData(PredictionType.Sample)]
    public void AnExactDdpmNetworkIsTheExactDenoiser(PredictionType prediction)
    {
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.ScaledLinear, 1000, 0.00085, 0.012);
        var data = new GaussianData(NoisePath.VarianceExploding, 0.3, 0.5, table.SigmaMax);
        double[] logSigmas = [.. table.Sigmas.Select(s => Math.Log(s))];
        // The network sees x_vp = sqrt(abar) x_0 + sqrt(1 - abar) eps and its timestep; it recovers sigma from the table.
        Tensor Network(Tensor xVp, double t)
        {
            int lo = Math.Min((int)t, 998);
            double sigma = Math.Exp(logSigmas[lo] + (t - lo) * (logSigmas[lo + 1] - logSigmas[lo]));
            double abar = 1 / (1 + sigma * sigma), a = Math.Sqrt(abar), s = Math.Sqrt(1 - abar);
            double k = data.Gain(sigma);
            // In x_vp: x_ve = x_vp / a; D = mu + k (x_ve - mu); eps = (x_vp - a D) / s; v = a eps - s D.
            double dMul = k / a, dAdd = data.Mean * (1 - k);
            double eMul = (1 - a * dMul) / s, eAdd = -a * dAdd / s;
            return prediction switch
            {
                PredictionType.Epsilon => xVp.Affine(eMul, eAdd),
                PredictionType.V => xVp.Affine(a * eMul - s * dMul, a * eAdd - s * dAdd),
                _ => xVp.Affine(dMul, dAdd),
            };
        }
        var denoiser = new DiscreteModelDenoiser(Network, table, prediction);
        var values = SamplerConvergenceTests.Noise(64, 2);
        foreach (double sigma in new[] { table.SigmaMax, 3.7, table.Sigmas[500], 0.05, table.SigmaMin })
        {
            using var x = Tensor.FromArray(_cpu, values.Select(v => (float)(v * Math.Sqrt(0.25 + sigma * sigma) + 0.3)).ToArray(), 64);
            using var got = denoiser.Denoise(x, sigma);
            using var want = data.Denoise(x, sigma);
            Assert.True(SamplerConvergenceTests.MaxDiff(want.ToFloatArray(), got.ToFloatArray()) < 1e-4 * Math.Max(1, sigma),
                $"{prediction} at sigma {sigma}: off by {SamplerConvergenceTests.MaxDiff(want.ToFloatArray(), got.ToFloatArray())}");
        }
    }

    [Fact]
    public void AnExactFlowNetworkIsTheExactDenoiser()
    {
        var data = new GaussianData(NoisePath.RectifiedFlow, 0.3, 0.5, 1);
        Tensor Network(Tensor x, double t)
        {
            double s = t / 1000, k = data.Gain(s);
            // D = mu + k (x - (1 - s) mu); eps = (x - (1 - s) D) / s; v = eps - D.
            double dMul = k, dAdd = data.Mean * (1 - k * (1 - s));
            return x.Affine((1 - (1 - s) * dMul) / s - dMul, -(1 - s) * dAdd / s - dAdd);
        }
        var denoiser = new FlowModelDenoiser(Network);
        var values = SamplerConvergenceTests.Noise(64, 2);
        foreach (double s in new[] { 1.0, 0.7, 0.25, 0.003 })
        {
            using var x = Tensor.FromArray(_cpu, values, 64);
            using var got = denoiser.Denoise(x, s);
            using var want = data.Denoise(x, s);
            Assert.True(SamplerConvergenceTests.MaxDiff(want.ToFloatArray(), got.ToFloatArray()) < 1e-5, $"flow at s = {s}");
        }
    }

    [Theory]
    [InlineData("ve")]
    [InlineData("flow")]
    public void GuidanceSamplesTheGuidedGaussian(string path)
    {
        // Exact denoisers are affine in the data mean, so u + s (c - u) is the denoiser of N(mu_u + s (mu_c - mu_u), c^2).
        var p = path == "ve" ? NoisePath.VarianceExploding : NoisePath.RectifiedFlow;
        double max = p == NoisePath.VarianceExploding ? 80 : 1;
        var cond = new GaussianData(p, 0.3, 0.5, max);
        var uncond = new GaussianData(p, -0.2, 0.5, max);
        var guided = new GuidedDenoiser(cond, uncond, 3.0);
        var target = new GaussianData(p, -0.2 + 3.0 * 0.5, 0.5, max);
        var schedule = p == NoisePath.VarianceExploding
            ? new SamplingSchedule(KarrasSigmas.Sigmas(128, 0.002, 80))
            : new SamplingSchedule(FlowMatchSigmas.Sigmas(128, 3));
        var noise = SamplerConvergenceTests.Noise(256, 8);
        using var x = Tensor.FromArray(_cpu, noise, 256);
        using var y = new DpmPp2MSampler().Sample(guided, x, schedule);
        float[] got = y.ToFloatArray();
        double worst = 0;
        for (int i = 0; i < got.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - target.ExactSample(noise[i], schedule)));
        Assert.True(worst < 2e-2, $"guided sample off by {worst}");
        Assert.Equal(128, cond.Calls); // DPM++ 2M: one guided call a step, one call of each model
        Assert.Equal(128, uncond.Calls);
    }

    [Fact]
    public void BadCallsAreRefusedWithTheReason()
    {
        var data = new GaussianData(NoisePath.VarianceExploding, 0, 1, 10);
        using var x = Tensor.FromArray(_cpu, new float[4], 4);
        var schedule = new SamplingSchedule(KarrasSigmas.Sigmas(4, 0.01, 10));
        Assert.Contains("GaussianNoise", Assert.Throws<TesseraException>(() => new AncestralSampler(1).Sample(data, x, schedule)).Message);
        var tooHigh = new SamplingSchedule(KarrasSigmas.Sigmas(4, 0.01, 20));
        Assert.Contains("above the model's largest", Assert.Throws<TesseraException>(() => new EulerSampler().Sample(data, x, tooHigh)).Message);
        Assert.Contains("dpmpp_2m", Assert.Throws<TesseraException>(() => SamplerCatalog.Create("dpm_fast")).Message);
        Assert.Contains("eta", Assert.Throws<TesseraException>(() => new AncestralSampler(-1)).Message);
        using var half = x.To(DType.F16);
        Assert.Contains("f32", Assert.Throws<TesseraException>(() => new EulerSampler().Sample(data, half, schedule)).Message);
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        Assert.Contains("FlowModelDenoiser", Assert.Throws<TesseraException>(() => new DiscreteModelDenoiser((t, _) => t.Affine(1), table, PredictionType.Flow)).Message);
        var wrongShape = new FlowModelDenoiser((t, _) => Tensor.Zeros(t.Backend, DType.F32, new Shape(3)));
        Assert.Contains("differs from its input", Assert.Throws<TesseraException>(() => wrongShape.Denoise(x, 0.5)).Message);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => new EulerSampler().Sample(data, x, schedule, cancellationToken: cts.Token));
    }
}
