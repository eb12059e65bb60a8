using System.Text.Json;
using Tessera.Formats;
using Tessera.Models.Diffusion;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;

namespace Tessera.Cli.Commands;

/// <summary>What <c>tessera diffuse</c> needs of a diffusion transformer: its latent shape, its defaults, and a
/// denoiser for the samplers built from the conditioning flags. A DiT (either layout) or an MMDiT (SD3).</summary>
internal abstract class DiffuseModel : IDisposable
{
    /// <summary>Latent channels.</summary>
    public abstract int LatentChannels { get; }

    /// <summary>Patch side: latent sides must be multiples of it.</summary>
    public abstract int Patch { get; }

    /// <summary>The latent side the model was trained at (the default --size is this x the latent factor).</summary>
    public abstract int TrainedLatentSide { get; }

    /// <summary>Whether the model is a rectified-flow one (flow samplers and sigmas).</summary>
    public abstract bool IsFlow { get; }

    /// <summary>The sampler used without --sampler.</summary>
    public string DefaultSampler => IsFlow ? "flow_euler" : "ddim";

    /// <summary>Steps without --steps.</summary>
    public int DefaultSteps => IsFlow ? 28 : 50;

    /// <summary>Guidance without --cfg (the DiT paper's sample.py: 4; SD3: 7).</summary>
    public double DefaultCfg => IsFlow ? 7 : 4;

    /// <summary>The denoiser for a batch of <paramref name="batch"/> samples under the options.</summary>
    public abstract IDenoiser Denoiser(DiffuseOptions options, int batch);

    /// <summary>The noise levels for the options.</summary>
    public abstract SamplingSchedule Schedule(DiffuseOptions options, int steps, bool karras);

    public abstract void Dispose();

    /// <summary>Opens --model: a diffusers folder (DiTTransformer2DModel or SD3Transformer2DModel, or a pipeline folder
    /// with transformer/) or an original DiT checkpoint file.</summary>
    public static DiffuseModel Open(IBackend backend, string path)
    {
        if (File.Exists(path)) return new DitModel(Dit.Open(backend, path));
        if (!Directory.Exists(path)) throw new TesseraException($"--model {path}: no such file or folder");
        string folder = !File.Exists(Path.Combine(path, "config.json")) && Directory.Exists(Path.Combine(path, "transformer")) ? Path.Combine(path, "transformer") : path;
        string config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) throw new TesseraException($"--model {path}: a folder without config.json (expected a diffusers DiT or SD3 transformer)");
        string? cls;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
            cls = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("_class_name", out var c) ? c.GetString() : null;
        }
        catch (JsonException e) { throw new TesseraException($"{config}: not valid JSON ({e.Message})"); }
        return cls switch
        {
            "SD3Transformer2DModel" => new MmditModel(Mmdit.Open(backend, folder), backend),
            "DiTTransformer2DModel" or null => new DitModel(Dit.Open(backend, folder)),
            _ => throw new TesseraException($"{config}: _class_name {cls} is not a model diffuse runs (DiTTransformer2DModel, SD3Transformer2DModel)"),
        };
    }

    /// <summary>The names --schedule takes for a DiT.</summary>
    internal static readonly string[] DiscreteScheduleNames = ["dit", "karras", "linear", "scaled_linear", "squaredcos_cap_v2"];

    /// <summary>A discrete-time schedule named by --schedule: "dit" (DiT's training schedule: linear betas 1e-4..0.02 over
    /// 1000 steps, at the integer timesteps DiT's respacing picks; "karras": Karras sigmas between its ends), "linear",
    /// "scaled_linear", "squaredcos_cap_v2" (diffusers' names; "scaled-linear", "squared-cosine" too).</summary>
    internal static (DiscreteNoiseSchedule Schedule, TimestepSpacing Spacing) Discrete(string? name)
    {
        string n = (name ?? "dit").Trim().ToLowerInvariant();
        if (n is "dit" or "karras") return (DiscreteNoiseSchedule.Create(BetaScheduleKind.Linear), TimestepSpacing.Respaced);
        if (n == "flow") throw new TesseraException($"--schedule flow is for an MMDiT (rectified flow); a DiT takes {string.Join(", ", DiscreteScheduleNames)}");
        BetaScheduleKind kind;
        try { kind = BetaSchedule.Parse(n); }
        catch (TesseraException) { throw new TesseraException($"unknown --schedule '{name}': a DiT takes {string.Join(", ", DiscreteScheduleNames)} (an MMDiT: flow)"); }
        bool scaled = kind == BetaScheduleKind.ScaledLinear;
        return (DiscreteNoiseSchedule.Create(kind, 1000, scaled ? 0.00085 : 1e-4, scaled ? 0.012 : 0.02), TimestepSpacing.Leading);
    }

    private sealed class DitModel(Dit dit) : DiffuseModel
    {
        public override int LatentChannels => dit.Config.InChannels;

        public override int Patch => dit.Config.PatchSize;

        public override int TrainedLatentSide => dit.Config.SampleSize;

        public override bool IsFlow => false;

        public override IDenoiser Denoiser(DiffuseOptions o, int batch)
        {
            if (o.TextEmbeddings is not null) throw new TesseraException("--text-embeddings is for an MMDiT (SD3); a DiT is conditioned on --class");
            int cls = o.Class ?? throw new TesseraException($"a DiT needs --class N (an ImageNet class id, 0..{dit.Config.NumEmbedsAdaNorm - 1})");
            if (cls < 0 || cls >= dit.Config.NumEmbedsAdaNorm)
                throw new TesseraException($"--class {cls} is outside the model's classes: num_classes is {dit.Config.NumEmbedsAdaNorm} (ids 0..{dit.Config.NumEmbedsAdaNorm - 1})");
            var (schedule, _) = Discrete(o.Schedule);
            // With learn_sigma the DDPM sampler takes the conditional branch's learned variance; other samplers drop it.
            var cond = new DiscreteModelDenoiser(dit.AsModel(Enumerable.Repeat(cls, batch).ToArray()), schedule, PredictionType.Epsilon,
                learnedSigma: dit.LearnsSigma);
            if (o.Cfg == 1) return cond;
            if (dit.LabelRows <= dit.NullClass) throw new TesseraException($"--cfg {o.Cfg}: this DiT has no null class row for guidance (use --cfg 1)");
            var uncond = new DiscreteModelDenoiser(dit.AsEpsilonModel(Enumerable.Repeat(dit.NullClass, batch).ToArray()), schedule, PredictionType.Epsilon);
            return new GuidedDenoiser(cond, uncond, o.Cfg);
        }

        public override SamplingSchedule Schedule(DiffuseOptions o, int steps, bool karras)
        {
            var (schedule, spacing) = Discrete(o.Schedule);
            return karras || o.Schedule?.Trim().ToLowerInvariant() == "karras" ? schedule.KarrasSchedule(steps) : schedule.Schedule(steps, spacing);
        }

        public override void Dispose() => dit.Dispose();
    }

    private sealed class MmditModel(Mmdit mmdit, IBackend backend) : DiffuseModel
    {
        private readonly List<Tensor> _held = [];

        public override int LatentChannels => mmdit.Config.InChannels;

        public override int Patch => mmdit.Config.PatchSize;

        public override int TrainedLatentSide => mmdit.Config.SampleSize;

        public override bool IsFlow => true;

        public override IDenoiser Denoiser(DiffuseOptions o, int batch)
        {
            if (o.Class is not null) throw new TesseraException("--class is for a class-conditional DiT; an MMDiT is conditioned on --text-embeddings");
            string file = o.TextEmbeddings ?? throw new TesseraException("an MMDiT needs --text-embeddings FILE (safetensors with encoder_hidden_states and pooled_projections)");
            var cond = Load(file, "", batch, required: true)!;
            var condDenoiser = new FlowModelDenoiser(mmdit.AsFlowModel(cond.Value.Tokens, cond.Value.Pooled));
            if (o.Cfg == 1) return condDenoiser;
            var neg = Load(file, "negative_", batch, required: false)
                ?? throw new TesseraException($"--cfg {o.Cfg} needs the unconditional embeddings in {file} (negative_encoder_hidden_states, negative_pooled_projections), or --cfg 1");
            return new GuidedDenoiser(condDenoiser, new FlowModelDenoiser(mmdit.AsFlowModel(neg.Tokens, neg.Pooled)), o.Cfg);
        }

        public override SamplingSchedule Schedule(DiffuseOptions o, int steps, bool karras)
        {
            if (karras) throw new TesseraException("Karras sigmas are for discrete-time models; an MMDiT samples flow sigmas");
            if (o.Schedule is { } s && !s.Trim().Equals("flow", StringComparison.OrdinalIgnoreCase))
                throw new TesseraException($"--schedule {s}: an MMDiT (rectified flow) takes only 'flow' (SD3's shifted sigmas, --shift)");
            return new SamplingSchedule(FlowMatchSigmas.Sigmas(steps, o.Shift));
        }

        // [1 or batch, T, joint] and [1 or batch, pooled] from the file, repeated to the batch.
        private (Tensor Tokens, Tensor Pooled)? Load(string file, string prefix, int batch, bool required)
        {
            if (!File.Exists(file)) throw new TesseraException($"--text-embeddings {file}: no such file");
            var cfg = mmdit.Config;
            using var wb = WeightBuilder.Open(backend, file);
            string tokens = prefix + "encoder_hidden_states", pooled = prefix + "pooled_projections";
            if (!wb.Contains(tokens) || !wb.Contains(pooled))
            {
                if (!required) return null;
                throw new TesseraException($"--text-embeddings {file} must hold {tokens} [B, T, {cfg.JointAttentionDim}] and {pooled} [B, {cfg.PooledProjectionDim}]");
            }
            var td = wb.Info(tokens).Dims;
            var pd = wb.Info(pooled).Dims;
            if (td.Count != 3 || td[2] != cfg.JointAttentionDim || pd.Count != 2 || pd[1] != cfg.PooledProjectionDim || td[0] != pd[0] || (td[0] != 1 && td[0] != batch))
                throw new TesseraException($"--text-embeddings {file}: {tokens} [{string.Join(", ", td)}] and {pooled} [{string.Join(", ", pd)}] should be [1 or {batch}, T, {cfg.JointAttentionDim}] and [same, {cfg.PooledProjectionDim}]");
            using var t = wb.GetAs(tokens, DType.F32, [.. td.Select(d => (int)d)]);
            using var p = wb.GetAs(pooled, DType.F32, [.. pd.Select(d => (int)d)]);
            var tb = Repeat(t, batch);
            var pb = Repeat(p, batch);
            _held.Add(tb);
            _held.Add(pb);
            return (tb, pb);
        }

        private static Tensor Repeat(Tensor t, int batch)
        {
            if (t.Dim(0) == batch) return t.Contiguous();
            var parts = Enumerable.Repeat(t, batch).ToArray();
            return Tensor.Concat(0, parts);
        }

        public override void Dispose()
        {
            foreach (var t in _held) t.Dispose();
            mmdit.Dispose();
        }
    }
}
