using Tessera.Models.Diffusion;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;
using Tessera.Models.Tests.Nn;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>DDPM sampling of a learned-sigma DiT end to end against the DiT repository's own loop: a random DiT in the
/// original layout (width 128, 2 blocks, patch 2, 4 latent channels, out_channels 8, 5 classes plus the null class)
/// written by ddpm_reference.py with torch.save and opened here through the safe .pth reader; the script runs the paper's
/// models.py forward (float64) inside DiT's respaced p_sample_loop with the learned range, from the same x_T and the
/// same per-step noise the sampler draws. With guidance (scale 3, epsilon guided on all channels, the variance of the
/// conditional branch) and without.</summary>
public sealed class DitLearnedSigmaSamplingTests(DitLearnedSigmaSamplingTests.Cases cases, ITestOutputHelper output)
    : IClassFixture<DitLearnedSigmaSamplingTests.Cases>
{
    private const int Width = 128, InChannels = 4, Layers = 2, Patch = 2, Side = 8, Classes = 5, Batch = 2, Steps = 6;

    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 155, script: "Diffusion/ddpm_reference.py");

        public static readonly Dictionary<string, (double Cfg, int[] Labels, ulong Seed)> Specs = new()
        {
            ["guided"] = (3, [1, 4], 31), ["plain"] = (1, [0, 2], 32),
        };

        public string Pt(string name) => Path.Combine(Ref.Dir, name + ".pt");

        public Cases()
        {
            var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
            double sigma0 = table.Schedule(Steps, TimestepSpacing.Respaced)[0];
            int n = Batch * InChannels * Side * Side;
            foreach (var (name, (cfg, labels, seed)) in Specs)
            {
                // x_T as the network sees it: the sampler's sigma_0 * noise, divided by sqrt(sigma_0^2 + 1).
                var noise = new float[n];
                new GaussianNoise(seed).Fill(noise);
                Ref.Add($"{name}.x", [.. noise.Select(v => (float)(v * sigma0 / Math.Sqrt(sigma0 * sigma0 + 1)))], Batch, InChannels, Side, Side);
                // The noise of each step, in the order the sampler draws it from GaussianNoise(seed + 100).
                var z = new float[Steps * n];
                new GaussianNoise(seed + 100).Fill(z);
                Ref.Add($"{name}.z", z, Steps, Batch, InChannels, Side, Side);
                string m = $"{name}.model.";
                Ref.Random(m + "x_embedder.proj.weight", 1 / MathF.Sqrt(InChannels * Patch * Patch), Width, InChannels, Patch, Patch);
                Ref.Random(m + "x_embedder.proj.bias", 0.3f, Width);
                Linear(m + "t_embedder.mlp.0", 256, Width);
                Linear(m + "t_embedder.mlp.2", Width, Width);
                Ref.Random(m + "y_embedder.embedding_table.weight", 1f, Classes + 1, Width);
                for (int l = 0; l < Layers; l++)
                {
                    string p = $"{m}blocks.{l}.";
                    Linear(p + "attn.qkv", Width, 3 * Width);
                    Linear(p + "attn.proj", Width, Width);
                    Linear(p + "mlp.fc1", Width, 4 * Width);
                    Linear(p + "mlp.fc2", 4 * Width, Width);
                    Linear(p + "adaLN_modulation.1", Width, 6 * Width);
                }
                Linear(m + "final_layer.linear", Width, Patch * Patch * 2 * InChannels);
                Linear(m + "final_layer.adaLN_modulation.1", Width, 2 * Width);
                Ref.Case(name, new()
                {
                    ["kind"] = "dit_ddpm_loop", ["width"] = Width, ["heads"] = 2, ["inChannels"] = InChannels, ["outChannels"] = 2 * InChannels,
                    ["layers"] = Layers, ["patch"] = Patch, ["sampleSize"] = Side, ["labelRows"] = Classes + 1, ["pt"] = Pt(name),
                    ["train_steps"] = 1000, ["steps"] = Steps, ["cfg"] = cfg, ["y"] = labels, ["null"] = Classes,
                });
            }
            Ref.Run();
        }

        // PyTorch's default initialisation range: every path of the network carries signal.
        private void Linear(string name, int i, int o)
        {
            Ref.Random(name + ".weight", 1 / MathF.Sqrt(i), o, i);
            Ref.Random(name + ".bias", 1 / MathF.Sqrt(i), o);
        }

        public void Dispose() => Ref.Dispose();
    }

    [SkippableTheory]
    [InlineData("guided")]
    [InlineData("plain")]
    public void DdpmOnALearnedSigmaDitMatchesDitsSampleLoop(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        var cpu = cases.Ref.Cpu;
        var (cfg, labels, seed) = Cases.Specs[name];
        using var dit = Dit.Open(cpu, cases.Pt(name));
        Assert.True(dit.LearnsSigma);
        var table = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var schedule = table.Schedule(Steps, TimestepSpacing.Respaced);
        var cond = new DiscreteModelDenoiser(dit.AsModel(labels), table, PredictionType.Epsilon, learnedSigma: true);
        IDenoiser denoiser = cfg == 1 ? cond
            : new GuidedDenoiser(cond, new DiscreteModelDenoiser(dit.AsEpsilonModel([dit.NullClass, dit.NullClass]), table, PredictionType.Epsilon), cfg);
        var noise = new float[Batch * InChannels * Side * Side];
        new GaussianNoise(seed).Fill(noise);
        using var x = Tensor.FromArray(cpu, noise, Batch, InChannels, Side, Side);
        using var sample = new DdpmSampler().Sample(denoiser, x, schedule, new GaussianNoise(seed + 100));
        var got = sample.ToFloatArray();
        var (want, shape) = cases.Ref.Expected($"{name}.sample");
        Assert.Equal(shape, sample.Shape.Dims.ToArray());
        double scale = want.Max(v => Math.Abs((double)v)), worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - want[i]));
        output.WriteLine($"{name}: {Steps} DDPM steps, largest difference {worst:E2} against DiT's p_sample_loop (samples up to {scale:F2})");
        Assert.True(scale > 0.5, "the reference sample is too small for the comparison to mean anything");
        Assert.True(worst < 1e-5 * Math.Max(1, scale), $"{name}: off by {worst:E2} (samples up to {scale:F2})");

        // Without the learned variance the same draws end elsewhere: the comparison above sees the variance.
        using var fixedVariance = new DdpmSampler(learnedVariance: false).Sample(denoiser, x, schedule, new GaussianNoise(seed + 100));
        var other = fixedVariance.ToFloatArray();
        double apart = 0;
        for (int i = 0; i < want.Length; i++) apart = Math.Max(apart, Math.Abs(other[i] - want[i]));
        output.WriteLine($"{name}: with the fixed variance instead, {apart:E2} away");
        Assert.True(apart > 100 * worst, $"{name}: the fixed-variance sample is only {apart:E2} away");
    }
}
