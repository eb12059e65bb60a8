using System.Diagnostics;
using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Models.Diffusion.Samplers;

/// <summary>Reported after each sampling step.</summary>
/// <param name="Step">Steps done (1 after the first).</param>
/// <param name="Steps">Steps in all.</param>
/// <param name="Sigma">The noise level reached.</param>
/// <param name="Elapsed">Time since sampling began.</param>
public readonly record struct SamplerProgress(int Step, int Steps, double Sigma, TimeSpan Elapsed);

/// <summary>A diffusion sampler: walks a sample from noise at σ_0 down a <see cref="SamplingSchedule"/> to σ = 0, asking
/// an <see cref="IDenoiser"/> for D(x; σ) along the way. Each sampler is written in the denoiser's own coordinates
/// (x = α(σ)·x_0 + σ·ε), so the same code samples variance-exploding (ε- and v-prediction, through
/// <see cref="DiscreteModelDenoiser"/>) and rectified-flow models.</summary>
public abstract class Sampler
{
    /// <summary>The name the command line uses ("euler", "dpmpp_2m", ...).</summary>
    public abstract string Name { get; }

    /// <summary>Whether it draws fresh noise during sampling (then it needs a <see cref="GaussianNoise"/>).</summary>
    public abstract bool IsStochastic { get; }

    /// <summary>Runs the sampler from unit noise <paramref name="noise"/> (scaled here by σ_0) and returns the sample at
    /// σ = 0 (a new tensor the caller disposes). Stochastic samplers draw their noise from <paramref name="random"/>.</summary>
    public Tensor Sample(IDenoiser denoiser, Tensor noise, SamplingSchedule schedule, GaussianNoise? random = null,
        Action<SamplerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(schedule);
        if (noise.DType != DType.F32) throw new TesseraException($"sampler {Name}: the noise must be f32, got {noise.DType.Name()} {noise.Shape}");
        if (IsStochastic && random is null) throw new TesseraException($"sampler {Name} draws noise at every step: give it a GaussianNoise");
        if (schedule[0] > denoiser.SigmaMax * (1 + 1e-9))
            throw new TesseraException($"sampler {Name}: the schedule starts at sigma {schedule[0]}, above the model's largest {denoiser.SigmaMax}");
        var run = new SamplerRun(denoiser, schedule, random);
        var clock = Stopwatch.StartNew();
        var x = noise.Affine(schedule[0]);
        try
        {
            for (int i = 0; i < schedule.Steps; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = Step(run, x, i);
                x.Dispose();
                x = next;
                progress?.Invoke(new SamplerProgress(i + 1, schedule.Steps, schedule[i + 1], clock.Elapsed));
            }
            return x;
        }
        catch
        {
            x.Dispose();
            throw;
        }
        finally
        {
            run.Dispose();
        }
    }

    /// <summary>One step from σ_i to σ_{i+1}: a new tensor (x is disposed by the caller).</summary>
    protected abstract Tensor Step(SamplerRun run, Tensor x, int i);
}

/// <summary>What a sampler carries from one step to the next: the denoiser, the schedule, the noise stream, and (for
/// multistep methods) the previous step's denoised estimate and log-SNR step.</summary>
public sealed class SamplerRun : IDisposable
{
    internal SamplerRun(IDenoiser denoiser, SamplingSchedule schedule, GaussianNoise? random)
    {
        Denoiser = denoiser;
        Schedule = schedule;
        Random = random;
    }

    /// <summary>The model.</summary>
    public IDenoiser Denoiser { get; }

    /// <summary>The noise levels.</summary>
    public SamplingSchedule Schedule { get; }

    /// <summary>The noise stream (null for deterministic samplers).</summary>
    public GaussianNoise? Random { get; }

    /// <summary>The noise path.</summary>
    public NoisePath Path => Denoiser.Path;

    /// <summary>A multistep method's previous denoised estimate (owned by the run).</summary>
    public Tensor? Previous { get; private set; }

    /// <summary>The previous step's log-SNR step h.</summary>
    public double PreviousH { get; set; } = double.NaN;

    /// <summary>Keeps <paramref name="denoised"/> as <see cref="Previous"/>, disposing the one before.</summary>
    public void Remember(Tensor denoised)
    {
        Previous?.Dispose();
        Previous = denoised;
    }

    /// <summary>Fresh unit noise shaped like <paramref name="like"/>.</summary>
    public Tensor Noise(Tensor like) =>
        (Random ?? throw new TesseraException("this sampler needs a noise stream")).Next(like.Backend, like.Shape);

    /// <summary>Disposes <see cref="Previous"/>.</summary>
    public void Dispose() => Remember(null!);
}
