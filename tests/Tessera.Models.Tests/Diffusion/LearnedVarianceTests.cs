using Tessera.Cpu;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;
using Tessera.Models.Tests.Nn;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>DDPM sampling with a learned variance (DiT's learn_sigma, improved DDPM's learned range). One reverse step
/// of <see cref="DdpmSampler"/> through a learned-sigma <see cref="DiscreteModelDenoiser"/>, given a network output and
/// the step's noise, against ddpm_reference.py (the DiT repository's respaced p_mean_variance and p_sample in NumPy,
/// float64) at several chain indices of 10-, 25- and 250-step respacings; DiT's respaced timesteps themselves; and a closed
/// form: on Gaussian data a network whose variance is the exact reverse variance makes DDPM draw the data law exactly at
/// any step count (5 here), where the fixed β̃ falls measurably short.</summary>
public sealed class LearnedVarianceTests(LearnedVarianceTests.Cases cases, ITestOutputHelper output) : IClassFixture<LearnedVarianceTests.Cases>
{
    private const int B = 2, C = 4, H = 4, W = 6;

    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 21, script: "Diffusion/ddpm_reference.py");

        // name -> (respaced steps, chain index)
        public static readonly Dictionary<string, (int Steps, int Index)> Specs = new()
        {
            ["s10_first"] = (10, 9), ["s10_mid"] = (10, 5), ["s10_second_last"] = (10, 1), ["s10_last"] = (10, 0),
            ["s25_mid"] = (25, 12), ["s250_first"] = (250, 249), ["s250_mid"] = (250, 137), ["s250_low"] = (250, 3),
        };

        public Dictionary<string, (float[] Noise, float[] Output, ulong ZSeed)> Inputs { get; } = [];

        public Cases()
        {
            var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
            ulong seed = 1;
            foreach (var (name, (steps, index)) in Specs)
            {
                var noise = new float[B * C * H * W];
                new GaussianNoise(seed++).Fill(noise);
                double sigmaT = table.SigmaAt(table.Timesteps(steps, TimestepSpacing.Respaced)[steps - 1 - index]);
                double cIn = 1 / Math.Sqrt(sigmaT * sigmaT + 1);
                // The network's input x_vp = x_ve / sqrt(sigma^2 + 1), x_ve = sigma * noise (what the sampler starts from).
                Ref.Add($"{name}.x", [.. noise.Select(v => (float)(v * sigmaT * cIn))], B, C, H, W);
                // epsilon in [-2, 2], the variance values in [-1.3, 1.3] (past the nominal range: DiT does not clamp).
                var eps = Ref.Random($"{name}.eps_part", 2f, B, C, H, W);
                var values = Ref.Random($"{name}.v_part", 1.3f, B, C, H, W);
                var outputs = Concat(eps, values);
                Ref.Add($"{name}.out", outputs, B, 2 * C, H, W);
                // The step's own noise: the first draw of the stream the sampler is given.
                ulong zSeed = 1000 + seed;
                var z = new float[noise.Length];
                new GaussianNoise(zSeed).Fill(z);
                Ref.Add($"{name}.z", z, B, C, H, W);
                Ref.Case(name, new() { ["kind"] = "dit_p_sample", ["train_steps"] = 1000, ["steps"] = steps, ["index"] = index });
                Inputs[name] = (noise, outputs, zSeed);
            }
            Ref.Run();
        }

        public void Dispose() => Ref.Dispose();

        // [B, C, H, W] and [B, C, H, W] -> [B, 2C, H, W].
        private static float[] Concat(float[] a, float[] b)
        {
            int per = C * H * W;
            var r = new float[2 * a.Length];
            for (int i = 0; i < B; i++)
            {
                Array.Copy(a, i * per, r, 2 * i * per, per);
                Array.Copy(b, i * per, r, (2 * i + 1) * per, per);
            }
            return r;
        }
    }

    public static TheoryData<string> Names => [.. Cases.Specs.Keys];

    // The steps that add noise (the last, to sigma 0, adds none: DiT's clipped log-variance there is never used).
    public static TheoryData<string> NoisyNames => [.. Cases.Specs.Where(c => c.Value.Index > 0).Select(c => c.Key)];

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void OneDdpmStepMatchesDitsLearnedRangePSample(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        var cpu = cases.Ref.Cpu;
        var (steps, index) = Cases.Specs[name];
        var (noise, outputs, zSeed) = cases.Inputs[name];
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var ts = table.Timesteps(steps, TimestepSpacing.Respaced);
        // The DiT repository's kept timesteps, ascending, are ours reversed.
        Assert.Equal(cases.Ref.Expected($"{name}.timesteps").Values.Select(v => (double)v), ts.Reverse());

        double sigmaT = table.SigmaAt(ts[steps - 1 - index]);
        double[] sigmas = index == 0 ? [sigmaT, 0] : [sigmaT, table.SigmaAt(ts[steps - index]), 0];
        var seen = new List<(float[] Input, double Timestep)>();
        Tensor Network(Tensor input, double t)
        {
            seen.Add((input.ToFloatArray(), t));
            return seen.Count == 1 ? Tensor.FromArray(cpu, outputs, B, 2 * C, H, W) : Tensor.Zeros(cpu, DType.F32, new Shape(B, 2 * C, H, W));
        }
        var denoiser = new DiscreteModelDenoiser(Network, table, PredictionType.Epsilon, learnedSigma: true);
        using var x = Tensor.FromArray(cpu, noise, B, C, H, W);
        // The step under test draws its noise first, from the stream that made z.
        using var result = new DdpmSampler().Sample(denoiser, x, new SamplingSchedule(sigmas), new GaussianNoise(zSeed));
        Assert.Equal(ts[steps - 1 - index], seen[0].Timestep, 6);

        // After a step to sigma_s > 0 the next network input is x_s / sqrt(sigma_s^2 + 1): DiT's x_{t-1}.
        float[] got = index == 0 ? result.ToFloatArray() : seen[1].Input;
        var (want, _) = cases.Ref.Expected($"{name}.sample");
        double scale = Math.Max(1, want.Max(v => Math.Abs((double)v))), worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - want[i]));
        output.WriteLine($"{name}: t = {ts[steps - 1 - index]}, largest difference {worst:E2} (values up to {scale:F2})");
        Assert.True(worst <= 2e-5 * scale, $"{name}: the step differs from DiT's p_sample by {worst:E2} (values up to {scale:F2})");
    }

    [SkippableTheory]
    [MemberData(nameof(NoisyNames))]
    public void TheLearnedLogVarianceIsDitsInterpolation(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        var (steps, index) = Cases.Specs[name];
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var ts = table.Timesteps(steps, TimestepSpacing.Respaced);
        double sigmaT = table.SigmaAt(ts[steps - 1 - index]), sigmaS = table.SigmaAt(ts[steps - index]);
        var posterior = DdpmPosterior.Between(NoisePath.VarianceExploding, sigmaT, sigmaS);
        // DiT's log-variance is of x_vp at s; ours of x_ve = x_vp / sqrt(abar_s): ln(sigma_s^2 + 1) apart.
        double shift = Math.Log(sigmaS * sigmaS + 1);
        var (_, outputs, _) = cases.Inputs[name];
        var (want, _) = cases.Ref.Expected($"{name}.log_variance");
        int per = C * H * W;
        for (int i = 0; i < want.Length; i++)
        {
            int b = i / per, r = i % per;
            double v = outputs[(2 * b + 1) * per + r];
            Assert.Equal(want[i], posterior.LearnedLogVariance(v) - shift, 1e-4);
        }
        using var values = Tensor.FromArray(cases.Ref.Cpu, [-1f, 1f, 0.3f], 3);
        var std = posterior.LearnedStd(values).ToFloatArray();
        Assert.Equal(Math.Sqrt(posterior.SmallVariance), std[0], 1e-6 * Math.Sqrt(posterior.LargeVariance) + 1e-12);
        Assert.Equal(Math.Sqrt(posterior.LargeVariance), std[1], 1e-5 * Math.Sqrt(posterior.LargeVariance));
        Assert.Equal(Math.Exp(posterior.LearnedLogVariance(0.3) / 2), std[2], 1e-5 * Math.Sqrt(posterior.LargeVariance));
    }

    [Fact]
    public void RespacedTimestepsAreDitsSpaceTimesteps()
    {
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        Assert.Equal([999, 666, 333, 0], table.Timesteps(4, TimestepSpacing.Respaced));
        var t250 = table.Timesteps(250, TimestepSpacing.Respaced).Reverse().ToArray();
        // space_timesteps(1000, "250"): 0, 4, 8, 12, 16, 20, ..., 497, 502, ..., 991, 995, 999 (round(k x 999/249)).
        Assert.Equal([0, 4, 8, 12, 16, 20], t250[..6]);
        Assert.Equal([481, 485, 489, 493, 497, 502, 506, 510, 514, 518], t250[120..130]);
        Assert.Equal([991, 995, 999], t250[^3..]);
        // With 999 steps the stride 999/998 summed 499 times falls just short of 499.5 in floating point: 499, not 500.
        var t999 = table.Timesteps(999, TimestepSpacing.Respaced).Reverse().ToArray();
        Assert.Equal([498, 499, 501, 502], t999[498..502]);
        Assert.Equal([999], table.Timesteps(1, TimestepSpacing.Respaced));
    }

    [Fact]
    public void WithTheExactReverseVarianceDdpmDrawsGaussianDataExactlyInFiveSteps()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var schedule = table.Schedule(5, TimestepSpacing.Respaced);
        var data = new GaussianData(NoisePath.VarianceExploding, 0.3, 0.5, table.SigmaMax);
        var exact = new ExactVarianceGaussian(data, schedule);
        var (learnedMean, learnedStd) = Draw(cpu, new DdpmSampler(), exact, schedule);
        var (fixedMean, fixedStd) = Draw(cpu, new DdpmSampler(learnedVariance: false), exact, schedule);
        output.WriteLine($"5 DDPM steps: learned variance mean {learnedMean:F4} std {learnedStd:F4}; fixed small mean {fixedMean:F4} std {fixedStd:F4} (data 0.3, 0.5)");
        // 50,000 draws: the standard error of the std is 0.5/sqrt(1e5) = 0.0016, of the mean 0.0022.
        Assert.InRange(learnedMean, 0.3 - 0.01, 0.3 + 0.01);
        Assert.InRange(learnedStd, 0.5 - 0.006, 0.5 + 0.006);
        Assert.True(0.5 - fixedStd > 0.03, $"the fixed variance should fall short at 5 steps: std {fixedStd:F4}");
        // One network call a step either way; only the learned-variance sampler asks for the variance.
        Assert.Equal(10, exact.Calls);
        Assert.Equal(5, exact.VarianceCalls);
    }

    [Fact]
    public void OtherSamplersAndTheUnguidedBranchUseTheEpsilonHalfOnly()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var eps = new float[B * C * H * W];
        new GaussianNoise(3).Fill(eps);
        var values = Enumerable.Repeat(0.5f, eps.Length).ToArray();
        Tensor Learned(Tensor input, double t)
        {
            using var e = Tensor.FromArray(cpu, eps, B, C, H, W);
            using var v = Tensor.FromArray(cpu, values, B, C, H, W);
            return Tensor.Concat(1, e, v);
        }
        Tensor Plain(Tensor input, double t) => Tensor.FromArray(cpu, eps, B, C, H, W);
        var learned = new DiscreteModelDenoiser(Learned, table, PredictionType.Epsilon, learnedSigma: true);
        var plain = new DiscreteModelDenoiser(Plain, table, PredictionType.Epsilon);
        using var x = Tensor.FromArray(cpu, eps, B, C, H, W);
        using (var a = learned.Denoise(x, 2.5))
        using (var b = plain.Denoise(x, 2.5))
            Assert.Equal(b.ToFloatArray(), a.ToFloatArray());
        var (d, v) = learned.DenoiseWithVariance(x, 2.5);
        using (d)
        using (v)
            Assert.Equal(values, v!.ToFloatArray());
        Assert.Null(plain.DenoiseWithVariance(x, 2.5).VarianceValues);

        // Guidance keeps the conditional branch's variance (DiT's forward_with_cfg).
        var guided = new GuidedDenoiser(learned, plain, 4);
        var (gd, gv) = guided.DenoiseWithVariance(x, 2.5);
        using (gd)
        using (gv)
        {
            Assert.Equal(values, gv!.ToFloatArray());
            using var want = plain.Denoise(x, 2.5);
            Assert.True(SamplerConvergenceTests.MaxDiff(want.ToFloatArray(), gd.ToFloatArray()) < 1e-5);
        }

        // A deterministic sampler gives the same sample with or without the variance half.
        var schedule = table.Schedule(4, TimestepSpacing.Respaced);
        using var noise = Tensor.FromArray(cpu, eps, B, C, H, W);
        using var s1 = new AncestralSampler(0, "ddim").Sample(learned, noise, schedule);
        using var s2 = new AncestralSampler(0, "ddim").Sample(plain, noise, schedule);
        Assert.Equal(s2.ToFloatArray(), s1.ToFloatArray());

        // An output without twice the channels is refused, naming both shapes.
        var wrong = new DiscreteModelDenoiser(Plain, table, PredictionType.Epsilon, learnedSigma: true);
        var e = Assert.Throws<TesseraException>(() => wrong.Denoise(x, 2.5));
        Assert.Contains("[2, 4, 4, 6]", e.Message);
        Assert.Contains("twice its channels", e.Message);
    }

    private static (double Mean, double Std) Draw(CpuBackend cpu, Sampler sampler, IDenoiser denoiser, SamplingSchedule schedule)
    {
        var random = new GaussianNoise(17);
        using var x = random.Next(cpu, new Shape(50_000));
        using var y = sampler.Sample(denoiser, x, schedule, random);
        var v = y.ToFloatArray();
        double mean = v.Average(a => (double)a);
        return (mean, Math.Sqrt(v.Sum(a => (a - mean) * (a - mean)) / (v.Length - 1)));
    }

    /// <summary>Gaussian data's exact denoiser, and as its learned variance the exact variance of p(x_s | x_t): the
    /// posterior's β̃ plus the spread of x_0 given x_t carried through the mean's x_0 coefficient, written in the learned
    /// range's terms (v) with β and β̃ computed here for the variance-exploding path.</summary>
    private sealed class ExactVarianceGaussian(GaussianData data, SamplingSchedule schedule) : ILearnedVarianceDenoiser
    {
        public int Calls { get; private set; }
        public NoisePath Path => data.Path;
        public double SigmaMax => data.SigmaMax;

        public int VarianceCalls { get; private set; }

        public Tensor Denoise(Tensor x, double sigma)
        {
            Calls++;
            return data.Denoise(x, sigma);
        }

        public (Tensor Denoised, Tensor? VarianceValues) DenoiseWithVariance(Tensor x, double sigma)
        {
            Calls++;
            VarianceCalls++;
            int i = Enumerable.Range(0, schedule.Steps).Single(k => schedule[k] == sigma);
            double t2 = sigma * sigma, s2 = schedule[i + 1] * schedule[i + 1], c2 = data.Std * data.Std;
            var denoised = data.Denoise(x, sigma);
            if (s2 == 0) return (denoised, x.Affine(0));
            double small = (t2 - s2) * s2 / t2, large = (t2 - s2) * (1 + s2) / (1 + t2);
            double c0 = (t2 - s2) / t2, exact = small + c0 * c0 * c2 * t2 / (c2 + t2);
            double v = 2 * (Math.Log(exact) - Math.Log(small)) / (Math.Log(large) - Math.Log(small)) - 1;
            return (denoised, x.Affine(0, v));
        }
    }
}
