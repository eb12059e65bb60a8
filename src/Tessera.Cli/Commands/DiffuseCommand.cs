using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Diffusion.Samplers;
using Tessera.Models.Diffusion.Schedules;
using Tessera.Models.Diffusion.Vae;

namespace Tessera.Cli.Commands;

/// <summary>What one <c>tessera diffuse</c> run asks for (null: the model's default).</summary>
internal sealed record DiffuseOptions(int? Class, string? TextEmbeddings, int? Steps, string? Sampler, string? Schedule, double Cfg,
    ulong Seed, string? Size, int Batch, double Shift);

/// <summary><c>tessera diffuse --model PATH [--vae PATH] [--class N | --text-embeddings FILE] [--steps N] [--sampler NAME]
/// [--schedule NAME] [--cfg S] [--seed S] [--size WxH] [--batch N] [--threads N] [--backend cpu|cuda] -o OUT.png
/// [--json]</c>: samples latents with a DiT (class-conditional) or an MMDiT (SD3, on given text embeddings), decodes them
/// with --vae to PNGs (OUT-0.png ... with --batch N), or without --vae writes them as OUT.safetensors ("latent",
/// [N, C, h, w] in the model's latent space). A progress line per step on a terminal; --json prints
/// {"files", "steps", "ms_per_step", "total_ms"}.</summary>
internal static class DiffuseCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a DiT (original .pt checkpoint or diffusers folder) or an SD3 transformer folder", Required = true };
        var vae = new Option<string?>("--vae") { Description = "the latent decoder (any autoencoder decoder the runtime opens: a TAESD-family file, ...); without it the latents are written to OUT.safetensors (tensor 'latent', the model's latent space)" };
        var cls = new Option<int?>("--class") { Description = "DiT: the class id (ImageNet for the published DiTs)" };
        var text = new Option<string?>("--text-embeddings") { Description = "MMDiT: safetensors with encoder_hidden_states [1|N, T, D] and pooled_projections [1|N, P] (negative_* too for --cfg > 1)" };
        var steps = new Option<int?>("--steps") { Description = "sampling steps (default: DiT 50, MMDiT 28)" };
        var sampler = new Option<string?>("--sampler") { Description = $"{string.Join(", ", SamplerCatalog.Names)}, or dit (= ddpm, the DiT paper's); default: DiT ddim, MMDiT flow_euler. With a learned-sigma DiT (out_channels = 2 x in_channels, as published) ddpm draws each step with the model's learned variance (improved DDPM's learned range, as DiT's sample.py); the other samplers use its epsilon only" };
        var schedule = new Option<string?>("--schedule") { Description = "DiT: dit (linear 1e-4..0.02, its training schedule, at the integer timesteps DiT's respacing picks; default), karras (Karras sigmas over it), linear, scaled_linear, squaredcos_cap_v2; MMDiT: flow" };
        var cfg = new Option<double?>("--cfg") { Description = "classifier-free guidance scale, 1 for none (default: DiT 4, MMDiT 7)" };
        var seed = new Option<ulong>("--seed") { Description = "noise seed (the same seed gives the same image on the same backend)", DefaultValueFactory = _ => 0 };
        var size = new Option<string?>("--size") { Description = "WxH in pixels, multiples of the latent factor x patch (default: the model's trained size)" };
        var batch = new Option<int>("--batch") { Description = "images to make (OUT-0.png ... OUT-(N-1).png)", DefaultValueFactory = _ => 1 };
        var shift = new Option<double>("--shift") { Description = "MMDiT: SD3's timestep shift of the flow sigmas", DefaultValueFactory = _ => 3.0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var output = new Option<string>("--out", "-o") { Description = "the PNG to write (with --batch N: OUT-0.png ...)", Required = true };
        var json = new Option<bool>("--json") { Description = "print one JSON object: files, steps, ms_per_step, total_ms" };
        var cmd = new Command("diffuse", "Sample images with a diffusion transformer (DiT, SD3 MMDiT)")
            { model, vae, cls, text, steps, sampler, schedule, cfg, seed, size, batch, shift, threads, backend, output, json };
        cmd.SetAction((pr, ct) => Task.FromResult(InspectCommand.Guard("diffuse", () =>
        {
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            var options = new DiffuseOptions(pr.GetValue(cls), pr.GetValue(text), pr.GetValue(steps), pr.GetValue(sampler), pr.GetValue(schedule),
                pr.GetValue(cfg) ?? double.NaN, pr.GetValue(seed), pr.GetValue(size), pr.GetValue(batch), pr.GetValue(shift));
            var report = Run(be, pr.GetValue(model)!, pr.GetValue(vae), options, pr.GetValue(output)!, progress: !pr.GetValue(json) && !Console.IsErrorRedirected, ct);
            Console.WriteLine(pr.GetValue(json) ? report.ToJson() : $"wrote {string.Join(", ", report.Files)}: {report.Steps} steps, {report.MsPerStep:F0} ms/step, {report.TotalMs / 1000:F1} s");
            return 0;
        })));
        return cmd;
    }

    /// <summary>Checks the flags, samples and writes the files.</summary>
    internal static DiffuseReport Run(IBackend backend, string modelPath, string? vaePath, DiffuseOptions options, string output, bool progress, CancellationToken ct)
    {
        if (options.Steps is <= 0) throw new TesseraException($"--steps must be at least 1, got {options.Steps}");
        if (options.Batch is < 1 or > 64) throw new TesseraException($"--batch must be 1 to 64, got {options.Batch}");
        if (!double.IsNaN(options.Cfg) && !(double.IsFinite(options.Cfg) && options.Cfg >= 0)) throw new TesseraException($"--cfg must be a finite number >= 0, got {options.Cfg}");
        if (!(options.Shift > 0 && double.IsFinite(options.Shift))) throw new TesseraException($"--shift must be a finite number > 0, got {options.Shift}");
        if (vaePath is not null && !File.Exists(vaePath) && !Directory.Exists(vaePath)) throw new TesseraException($"--vae {vaePath}: no such file or folder");
        // A misspelt sampler is refused before any weights load.
        if (options.Sampler is { Length: > 0 } named && !named.Equals("dit", StringComparison.OrdinalIgnoreCase)) SamplerCatalog.Create(named);
        var total = Stopwatch.StartNew();
        using var model = DiffuseModel.Open(backend, modelPath);
        using var decoder = vaePath is null ? null : LatentDecoders.Open(backend, vaePath);
        int factor = decoder?.SpatialFactor ?? 8;
        if (decoder is not null && decoder.LatentChannels != model.LatentChannels)
            throw new TesseraException($"--vae {vaePath} decodes {decoder.LatentChannels}-channel latents, the model makes {model.LatentChannels}");
        var (w, h) = ParseSize(options.Size, model.TrainedLatentSide * factor);
        int unit = factor * model.Patch;
        if (w % unit != 0 || h % unit != 0)
            throw new TesseraException($"--size {w}x{h}: both sides must be multiples of the latent factor {factor} x patch {model.Patch} = {unit}");
        int steps = options.Steps ?? model.DefaultSteps;
        var opts = options with { Cfg = double.IsNaN(options.Cfg) ? model.DefaultCfg : options.Cfg };
        string samplerName = opts.Sampler is null or "" ? model.DefaultSampler : opts.Sampler.Equals("dit", StringComparison.OrdinalIgnoreCase) ? "ddpm" : opts.Sampler;
        var choice = SamplerCatalog.Create(samplerName);
        var schedule = model.Schedule(opts, steps, choice.KarrasSigmas);
        var denoiser = model.Denoiser(opts, opts.Batch);

        var random = new GaussianNoise(opts.Seed);
        using var noise = random.Next(backend, new Shape(opts.Batch, model.LatentChannels, h / factor, w / factor));
        var sampling = Stopwatch.StartNew();
        using var latents = choice.Sampler.Sample(denoiser, noise, schedule, random,
            progress ? p => DrawProgress(p) : null, ct);
        double samplingMs = sampling.Elapsed.TotalMilliseconds;
        if (progress) Console.Error.Write("\r" + new string(' ', 72) + "\r");
        var files = decoder is null ? WriteLatents(latents, output) : WriteImages(decoder, latents, output);
        return new DiffuseReport(files, schedule.Steps, samplingMs / schedule.Steps, total.Elapsed.TotalMilliseconds);
    }

    /// <summary>"WxH" (null: <paramref name="side"/> square).</summary>
    internal static (int W, int H) ParseSize(string? size, int side)
    {
        if (size is null) return (side, side);
        var parts = size.ToLowerInvariant().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h) || w <= 0 || h <= 0 || w > 16384 || h > 16384)
            throw new TesseraException($"--size must be WxH with positive sides up to 16384, got '{size}'");
        return (w, h);
    }

    private static void DrawProgress(SamplerProgress p)
    {
        const int width = 30;
        int done = p.Step * width / p.Steps;
        double perStep = p.Elapsed.TotalSeconds / p.Step;
        Console.Error.Write($"\rdiffuse [{new string('#', done)}{new string('.', width - done)}] step {p.Step}/{p.Steps}  {perStep:F2} s/step  sigma {p.Sigma:G3}   ");
    }

    private static List<string> WriteImages(ILatentDecoder decoder, Tensor latents, string output)
    {
        using var images = decoder.DecodeModelLatent(latents);
        var files = OutputNames(output, images.Dim(0), ".png");
        for (int i = 0; i < files.Count; i++) VaeCommand.WritePng(files[i], ImageTensors.ToImage(images, i));
        return files;
    }

    private static List<string> WriteLatents(Tensor latents, string output)
    {
        string file = Path.ChangeExtension(output, ".safetensors");
        SafetensorsWriter.Write(file, [WeightTensor.FromTensor("latent", latents)]);
        return [file];
    }

    /// <summary>OUT.png for one image; OUT-0.png ... for several.</summary>
    internal static List<string> OutputNames(string output, int count, string extension)
    {
        if (count == 1) return [Path.ChangeExtension(output, extension)];
        string stem = Path.Combine(Path.GetDirectoryName(output) ?? "", Path.GetFileNameWithoutExtension(output));
        return [.. Enumerable.Range(0, count).Select(i => $"{stem}-{i}{extension}")];
    }
}

/// <summary>The files written and the timings (sampling time per step; total with loading and decoding).</summary>
internal sealed record DiffuseReport(List<string> Files, int Steps, double MsPerStep, double TotalMs)
{
    /// <summary>{"files":[..],"steps":..,"ms_per_step":..,"total_ms":..}.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("files");
            foreach (var f in Files) w.WriteStringValue(f);
            w.WriteEndArray();
            w.WriteNumber("steps", Steps);
            w.WriteNumber("ms_per_step", Math.Round(MsPerStep, 2));
            w.WriteNumber("total_ms", Math.Round(TotalMs, 1));
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
