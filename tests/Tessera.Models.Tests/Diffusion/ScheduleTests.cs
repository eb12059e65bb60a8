using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The schedules against their formulas in double precision, and against the values diffusers and k-diffusion
/// print for the standard configurations (computed there in float32, hence the 2e-5 relative tolerance on those).</summary>
public sealed class ScheduleTests
{
    private static void Near(double expected, double actual, double relative) =>
        Assert.True(Math.Abs(actual - expected) <= relative * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");

    [Fact]
    public void BetasAndAlphaProductsEqualTheirFormulas()
    {
        const int T = 1000;
        foreach (var kind in Enum.GetValues<BetaScheduleKind>())
        {
            var s = DiscreteNoiseSchedule.Create(kind, T, 0.00085, 0.012);
            double prod = 1;
            for (int t = 0; t < T; t++)
            {
                double f = t / (T - 1.0);
                double beta = kind switch
                {
                    BetaScheduleKind.Linear => 0.00085 + f * (0.012 - 0.00085),
                    BetaScheduleKind.ScaledLinear => Math.Pow(Math.Sqrt(0.00085) * (1 - f) + Math.Sqrt(0.012) * f, 2),
                    _ => Math.Min(1 - Math.Pow(Math.Cos(((t + 1.0) / T + 0.008) / 1.008 * Math.PI / 2) / Math.Cos((t / (double)T + 0.008) / 1.008 * Math.PI / 2), 2), 0.999),
                };
                prod *= 1 - beta;
                Near(beta, s.Betas[t], 1e-11);
                Near(prod, s.AlphasCumprod[t], 1e-12);
                Near(Math.Sqrt(1 / prod - 1), s.Sigmas[t], 1e-12);
            }
        }
    }

    [Fact]
    public void StandardConfigsGiveTheValuesDiffusersPrints()
    {
        // DDPM / DiT: linear 1e-4 .. 0.02, T = 1000. alphas_cumprod[999] = prod(1 - beta) = 4.0358e-05 (diffusers prints
        // tensor(4.0358e-05)); sigma_max = sqrt((1 - 4.0358e-05) / 4.0358e-05) = 157.407.
        var ddpm = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        Near(4.0358e-05, ddpm.AlphasCumprod[999], 2e-5);
        Near(157.4073, ddpm.SigmaMax, 2e-5);
        Near(0.9999, ddpm.AlphasCumprod[0], 1e-15);
        // Stable Diffusion 1.x: scaled_linear 0.00085 .. 0.012. k-diffusion's CompVisDenoiser prints sigma_min
        // 0.029167532920837402 and sigma_max 14.614642143249512 (float32 cumprod; double gives 0.02916716, 14.6146412).
        var sd = DiscreteNoiseSchedule.Create(BetaScheduleKind.ScaledLinear, 1000, 0.00085, 0.012);
        Near(0.029167532920837402, sd.SigmaMin, 2e-5);
        Near(14.614642143249512, sd.SigmaMax, 2e-5);
        Near(0.0046600985, sd.AlphasCumprod[999], 2e-5);
        // squaredcos_cap_v2: beta_0 = 1 - cos^2((1/1000 + 0.008)/1.008 pi/2) / cos^2(0.008/1.008 pi/2) = 4.12842e-05, and the
        // last beta is capped at 0.999.
        var cos = DiscreteNoiseSchedule.Create(BetaScheduleKind.SquaredCosine);
        Near(4.1284224822e-05, cos.Betas[0], 1e-9);
        Assert.Equal(0.999, cos.Betas[999]);
        Near(0.493843590441, cos.AlphasCumprod[499], 1e-9);
    }

    [Fact]
    public void TimestepSpacingsMatchDiffusersSetTimesteps()
    {
        var s = DiscreteNoiseSchedule.Create(BetaScheduleKind.ScaledLinear, 1000, 0.00085, 0.012);
        // DDIM / SD "leading" with steps_offset 1, 50 steps: 981, 961, ..., 21, 1.
        var leading = s.Timesteps(50, TimestepSpacing.Leading, 1);
        Assert.Equal(981, leading[0]);
        Assert.Equal(961, leading[1]);
        Assert.Equal(1, leading[^1]);
        // "trailing", 10 steps: round(arange(1000, 0, -100)) - 1 = 999, 899, ..., 99.
        Assert.Equal([999, 899, 799, 699, 599, 499, 399, 299, 199, 99], s.Timesteps(10, TimestepSpacing.Trailing));
        // "trailing", 3 steps: arange(1000, 0, -333.33) = 1000, 666.67, 333.33 -> rounded 1000, 667, 333, minus 1.
        Assert.Equal([999, 666, 332], s.Timesteps(3, TimestepSpacing.Trailing));
        // "linspace", 4 steps: linspace(0, 999, 4) reversed = 999, 666, 333, 0.
        Assert.Equal([999, 666, 333, 0], s.Timesteps(4, TimestepSpacing.Linspace));
        // Their sigmas: the table's at whole timesteps, interpolated linearly at fractional ones, then 0.
        var sched = s.Schedule(4, TimestepSpacing.Linspace);
        Assert.Equal(s.Sigmas[666], sched[1]);
        Assert.Equal(0, sched[4]);
        Near(0.25 * s.Sigmas[10] + 0.75 * s.Sigmas[11], s.SigmaAt(10.75), 1e-15);
    }

    [Fact]
    public void SigmaToTimestepInvertsTheTableAndInterpolatesLogSigma()
    {
        var s = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        foreach (int t in new[] { 0, 1, 17, 500, 998, 999 }) Near(t, s.TimestepOf(s.Sigmas[t]), 1e-12);
        double mid = Math.Exp(0.5 * (Math.Log(s.Sigmas[300]) + Math.Log(s.Sigmas[301])));
        Near(300.5, s.TimestepOf(mid), 1e-12);
        Assert.Equal(0, s.TimestepOf(s.SigmaMin / 2));
        Assert.Equal(999, s.TimestepOf(s.SigmaMax * 2));
    }

    [Fact]
    public void KarrasSigmasFollowEquationFive()
    {
        // For SD's range, 5 steps: (14.6146^(1/7) + i/4 (0.0291672^(1/7) - 14.6146^(1/7)))^7 = 14.6146, 4.79653, 1.27410,
        // 0.247950, 0.0291672, then 0.
        var sd = DiscreteNoiseSchedule.Create(BetaScheduleKind.ScaledLinear, 1000, 0.00085, 0.012);
        var k = sd.KarrasSchedule(5);
        double[] expected = [14.614641229333643, 4.79653482712404, 1.274100208978096, 0.24794990271076306, 0.02916715815172038, 0];
        for (int i = 0; i < expected.Length; i++) Near(expected[i], k[i], 1e-12);
        var rho3 = KarrasSigmas.Sigmas(9, 0.1, 10, rho: 3);
        for (int i = 0; i < 9; i++) Near(Math.Pow(Math.Pow(10, 1 / 3.0) + i / 8.0 * (Math.Pow(0.1, 1 / 3.0) - Math.Pow(10, 1 / 3.0)), 3), rho3[i], 1e-13);
    }

    [Fact]
    public void FlowSigmasAreShiftedAsInStableDiffusion3()
    {
        // shift(s) = 3s / (1 + 2s). diffusers' FlowMatchEulerDiscreteScheduler(shift=3), 28 steps: linspace(1, shift(1/1000) =
        // 0.0029940, 28), shifted: 1.0, 0.987381, ..., 0.110906, 0.0089286, then 0.
        var f = FlowMatchSigmas.Sigmas(28, shift: 3);
        Assert.Equal(29, f.Length);
        Near(1.0, f[0], 1e-15);
        Near(0.987380627557981, f[1], 1e-12);
        Near(0.11090573012939016, f[26], 1e-12);
        Near(0.008928571428571334, f[27], 1e-12);
        Assert.Equal(0, f[28]);
        // shift 1 is the plain linear flow time.
        var plain = FlowMatchSigmas.Sigmas(4, shift: 1);
        Near(1 - 1 / 3.0 * (1 - 0.001), plain[1], 1e-14);
        Assert.Equal(0.001, plain[3], 15);
    }

    [Fact]
    public void BadSchedulesAreRefusedNamingTheProblem()
    {
        var s = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        Assert.Contains("at least 1 step", Assert.Throws<TesseraException>(() => s.Schedule(0)).Message);
        Assert.Contains("at least 1 step", Assert.Throws<TesseraException>(() => FlowMatchSigmas.Sigmas(0)).Message);
        Assert.Contains("1001 steps", Assert.Throws<TesseraException>(() => s.Timesteps(1001)).Message);
        Assert.Contains("fall strictly", Assert.Throws<TesseraException>(() => new SamplingSchedule([1.0, 2.0, 0.0])).Message);
        Assert.Contains("last sigma must be 0", Assert.Throws<TesseraException>(() => new SamplingSchedule([2.0, 1.0])).Message);
        Assert.Contains("beta_start", Assert.Throws<TesseraException>(() => DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear, 10, 0.5, 0.1)).Message);
        Assert.Contains("sigma_min", Assert.Throws<TesseraException>(() => KarrasSigmas.Sigmas(5, 0, 10)).Message);
        Assert.Contains("scaled-linear", Assert.Throws<TesseraException>(() => BetaSchedule.Parse("quadratic")).Message);
    }
}
