namespace Tessera.Models.Diffusion.Schedules;

/// <summary>Rectified-flow sigmas (x_s = (1 - s)·x_0 + s·noise, s from 1 to 0) with Stable Diffusion 3's timestep shift
/// s' = shift·s / (1 + (shift - 1)·s) (Esser et al. 2024, section 5.3.2: shift 3 for SD3 at 1024²), laid out as
/// diffusers' FlowMatchEulerDiscreteScheduler does.</summary>
public static class FlowMatchSigmas
{
    /// <summary>The shifted s.</summary>
    public static double Shift(double s, double shift) => shift * s / (1 + (shift - 1) * s);

    /// <summary>N + 1 sigmas: N unshifted values evenly spaced from σ_max = 1 to σ_min, shifted, then 0. As in diffusers,
    /// σ_min is the training table's smallest shifted value, shift(1/T), and the evenly spaced values are shifted
    /// again (so the last step's sigma is shift(shift(1/T))).</summary>
    public static double[] Sigmas(int steps, double shift = 1, int trainSteps = 1000)
    {
        SamplingSchedule.CheckSteps(steps);
        if (!(shift > 0) || !double.IsFinite(shift)) throw new TesseraException($"flow-matching sigmas: shift must be positive, got {shift}");
        if (trainSteps < 2) throw new TesseraException($"flow-matching sigmas: needs at least 2 training timesteps, got {trainSteps}");
        double max = 1, min = Shift(1.0 / trainSteps, shift);
        var sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++)
        {
            double ramp = steps == 1 ? 0 : (double)i / (steps - 1);
            sigmas[i] = Shift(max + ramp * (min - max), shift);
        }
        return sigmas;
    }
}
