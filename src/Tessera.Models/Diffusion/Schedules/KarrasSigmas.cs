namespace Tessera.Models.Diffusion.Schedules;

/// <summary>Karras et al. (2022), eq. 5: σ_i = (σ_max^(1/ρ) + i/(N-1) · (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ for i &lt; N, then
/// σ_N = 0. ρ = 7 puts more steps at low noise.</summary>
public static class KarrasSigmas
{
    /// <summary>N + 1 sigmas from σ_max down to σ_min, then 0.</summary>
    public static double[] Sigmas(int steps, double sigmaMin, double sigmaMax, double rho = 7)
    {
        SamplingSchedule.CheckSteps(steps);
        if (!(sigmaMin > 0 && sigmaMin <= sigmaMax && double.IsFinite(sigmaMax)))
            throw new TesseraException($"Karras sigmas: needs 0 < sigma_min <= sigma_max, got {sigmaMin} and {sigmaMax}");
        if (!(rho > 0)) throw new TesseraException($"Karras sigmas: rho must be positive, got {rho}");
        var sigmas = new double[steps + 1];
        double lo = Math.Pow(sigmaMin, 1 / rho), hi = Math.Pow(sigmaMax, 1 / rho);
        for (int i = 0; i < steps; i++)
        {
            double ramp = steps == 1 ? 0 : (double)i / (steps - 1);
            sigmas[i] = Math.Pow(hi + ramp * (lo - hi), rho);
        }
        return sigmas;
    }
}
