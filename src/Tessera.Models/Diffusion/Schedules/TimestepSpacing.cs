namespace Tessera.Models.Diffusion.Schedules;

/// <summary>How N sampling timesteps are picked from T training timesteps (diffusers' <c>timestep_spacing</c>).</summary>
public enum TimestepSpacing
{
    /// <summary>"leading": t = (N-1-i)·⌊T/N⌋ + offset (DDIM's and Stable Diffusion's default, offset 1).</summary>
    Leading,

    /// <summary>"trailing": t = round(T - i·T/N) - 1, so the first step is the last training timestep.</summary>
    Trailing,

    /// <summary>"linspace": t evenly spaced from T-1 down to 0, fractional; σ interpolated linearly between
    /// neighbouring training timesteps (diffusers' Euler and Heun schedulers).</summary>
    Linspace,

    /// <summary>"respaced": the integer timesteps of improved DDPM's and DiT's space_timesteps(T, "N"): round(k·(T-1)/(N-1))
    /// for k = 0 .. N-1, the stride summed in floating point and rounded half to even as Python does; the model sees
    /// those timesteps. (One step is t = T-1 here; space_timesteps would take t = 0.)</summary>
    Respaced,
}
