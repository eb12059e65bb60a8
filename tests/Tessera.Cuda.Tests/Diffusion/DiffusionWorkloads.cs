using Tessera.Models.Diffusion;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;
using Tessera.Models.Diffusion.Vae;
using static Tessera.Cuda.Tests.Diffusion.TinyDiffusionCheckpoints;

namespace Tessera.Cuda.Tests.Diffusion;

/// <summary>Each diffusion network of <see cref="TinyDiffusionCheckpoints"/> run end to end on a backend, at odd
/// shapes (unsquare latents, batch 2 where the model takes one), with inputs made on the host from fixed seeds so that
/// every backend sees the same numbers; a workload returns its outputs as floats, concatenated. The same workloads feed
/// the op audit (on <see cref="OpRecordingBackend"/>) and the CUDA-against-CPU comparison.</summary>
public static class DiffusionWorkloads
{
    /// <summary>A workload: the backend, the checkpoints; the outputs.</summary>
    public delegate float[] Workload(IBackend backend, TinyDiffusionCheckpoints files);

    /// <summary>The workloads by name, in the order the audit reports them.</summary>
    public static IReadOnlyDictionary<string, Workload> All { get; } = new Dictionary<string, Workload>
    {
        ["dit"] = DitForward,
        ["dit-ddim-cfg-2-steps"] = DitSampling,
        ["dit-original"] = DitOriginalForward,
        ["mmdit"] = MmditForward,
        ["mmdit-flow-euler-2-steps"] = MmditSampling,
        ["kl-decode"] = KlDecode,
        ["kl-encode"] = KlEncode,
        ["kl-wide-decode-tiled"] = KlWideDecodeTiled,
        ["taesd-decode"] = (b, f) => TaeDecode(b, f.TaesdDecoder, 4),
        ["taesd-encode"] = (b, f) => TaeEncode(b, f.TaesdEncoder),
        ["taef2-decode"] = (b, f) => TaeDecode(b, f.Taef2Decoder, 32),
        ["taef2-encode"] = (b, f) => TaeEncode(b, f.Taef2Encoder),
    };

    /// <summary>Uniform values in [-scale, scale) from a seed, as a tensor on the backend.</summary>
    public static Tensor Input(IBackend backend, int seed, float scale, params int[] shape)
    {
        var r = new Random(seed);
        var v = new float[shape.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((r.NextDouble() * 2 - 1) * scale);
        return Tensor.FromArray(backend, v, shape);
    }

    private static float[] DitForward(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var dit = Dit.Open(backend, files.Dit);
        using var x = Input(backend, 1, 1.5f, 2, DitIn, 6, 10);
        using var t = Tensor.FromArray(backend, new[] { 417.5f, 3f }, 2);
        using var y = dit.Forward(x, t, [DitClasses - 1, dit.NullClass]);
        return y.ToFloatArray();
    }

    // The original checkpoint layout: one set of conditioning embedders shared by the blocks, the stored positions.
    private static float[] DitOriginalForward(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var dit = Dit.Open(backend, files.DitOriginal);
        using var x = Input(backend, 12, 1.5f, 2, DitIn, DitSample, DitSample);
        using var t = Tensor.FromArray(backend, new[] { 999f, 250f }, 2);
        using var y = dit.Forward(x, t, [1, dit.NullClass]);
        return y.ToFloatArray();
    }

    // DDIM (eta 0) over DiT's linear betas, classifier-free guidance 4: two forwards a step, the learned sigma split off.
    private static float[] DitSampling(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var dit = Dit.Open(backend, files.Dit);
        var schedule = DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear);
        var cond = new DiscreteModelDenoiser(dit.AsEpsilonModel([2, 2]), schedule, PredictionType.Epsilon);
        var uncond = new DiscreteModelDenoiser(dit.AsEpsilonModel([dit.NullClass, dit.NullClass]), schedule, PredictionType.Epsilon);
        var random = new GaussianNoise(15);
        using var noise = random.Next(backend, new Shape(2, DitIn, 8, 6));
        using var sample = SamplerCatalog.Create("ddim").Sampler.Sample(new GuidedDenoiser(cond, uncond, 4), noise,
            schedule.Schedule(2, TimestepSpacing.Linspace), random);
        return sample.ToFloatArray();
    }

    private static float[] MmditForward(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var mm = Mmdit.Open(backend, files.Mmdit);
        using var x = Input(backend, 2, 1.5f, 2, MmIn, 6, 8);
        using var t = Tensor.FromArray(backend, new[] { 1000f, 371.25f }, 2);
        using var ehs = Input(backend, 3, 1f, 2, 5, MmJoint);
        using var pooled = Input(backend, 4, 1f, 2, MmPooled);
        using var y = mm.Forward(x, t, ehs, pooled);
        return y.ToFloatArray();
    }

    // SD3's flow-matching Euler over shifted sigmas (shift 3), one conditioning.
    private static float[] MmditSampling(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var mm = Mmdit.Open(backend, files.Mmdit);
        using var ehs = Input(backend, 5, 1f, 1, 7, MmJoint);
        using var pooled = Input(backend, 6, 1f, 1, MmPooled);
        var random = new GaussianNoise(16);
        using var noise = random.Next(backend, new Shape(1, MmIn, 4, 6));
        using var sample = SamplerCatalog.Create("flow_euler").Sampler.Sample(new FlowModelDenoiser(mm.AsFlowModel(ehs, pooled)), noise,
            new SamplingSchedule(FlowMatchSigmas.Sigmas(2, shift: 3)), random);
        return sample.ToFloatArray();
    }

    private static float[] KlDecode(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var vae = AutoencoderKl.Open(backend, files.Kl);
        using var z = Input(backend, 7, 2f, 2, 4, 3, 5);
        using var image = vae.DecodeModelLatent(z);
        return image.ToFloatArray();
    }

    // The posterior's mean and log-variance, concatenated.
    private static float[] KlEncode(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var vae = AutoencoderKl.Open(backend, files.Kl);
        using var image = Input(backend, 8, 1f, 1, 3, 10, 6);
        using var posterior = vae.Encode(image);
        return [.. posterior.Mean.ToFloatArray(), .. posterior.LogVar.ToFloatArray()];
    }

    // Tiles of 4 latent positions overlapping by 1, blended: the tiling's narrow, blend and paste ops on top of the decoder.
    private static float[] KlWideDecodeTiled(IBackend backend, TinyDiffusionCheckpoints files)
    {
        using var vae = AutoencoderKl.Open(backend, files.KlWide);
        using var z = Input(backend, 9, 2f, 1, 4, 6, 7);
        using var image = vae.DecodeTiled(z, tileLatent: 4, overlap: 0.25);
        return image.ToFloatArray();
    }

    private static float[] TaeDecode(IBackend backend, string path, int channels)
    {
        using var tae = TinyAutoencoder.Open(backend, path);
        using var z = Input(backend, 10, 2f, 1, channels, 2, 3);
        using var image = tae.Decode(z);
        return image.ToFloatArray();
    }

    private static float[] TaeEncode(IBackend backend, string path)
    {
        using var tae = TinyAutoencoder.Open(backend, path);
        using var image = Input(backend, 11, 0.5f, 1, 3, 16, 24);
        using var shifted = image.Affine(1, 0.5);
        using var z = tae.Encode(shifted);
        return z.ToFloatArray();
    }
}
