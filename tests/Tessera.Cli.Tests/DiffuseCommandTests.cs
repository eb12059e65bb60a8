using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Imaging;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera diffuse</c> as a user runs it: a tiny random DiT in the original checkpoint layout (written
/// here as safetensors under facebookresearch's names) and a tiny random SD3 MMDiT folder. The --json object, the
/// latent file without --vae (its shape, the same seed giving the same latent, another seed another), PNGs through
/// FLUX.2's real TAEF2 decoder with --batch 2, DDPM with the DiT's learned variance, and clear errors (exit 1, the
/// message on stderr, stdout empty even with --json) for a size off the latent factor x patch, a class id past
/// num_classes, 0 steps, --batch 0, an unknown sampler or schedule (the valid names listed), an MMDiT without its text
/// embeddings or with wrongly named or shaped ones.</summary>
public sealed class DiffuseCommandTests
{
    private static readonly string Taef2Decoder = Path.GetFullPath(Path.Combine(TesseraProcess.RepoRoot, "..", "shared", "models", "vae", "taef2", "taef2_decoder.pth"));

    private sealed class Writer(int seed)
    {
        private readonly Random _rng = new(seed);
        public List<WeightTensor> Tensors { get; } = [];

        public void Add(string name, float bound, params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * bound);
            Tensors.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), v));
        }

        public void Linear(string name, int i, int o)
        {
            Add(name + ".weight", 1 / MathF.Sqrt(i), o, i);
            Add(name + ".bias", 0.02f, o);
        }
    }

    // Width 64 (one head of 64), 2 blocks, patch 2, learned sigma, 5 classes + the null class, no pos_embed.
    private static string TinyDit(string dir, int channels)
    {
        const int d = 64, p = 2;
        var w = new Writer(11);
        w.Add("x_embedder.proj.weight", 0.3f, d, channels, p, p);
        w.Add("x_embedder.proj.bias", 0.02f, d);
        w.Linear("t_embedder.mlp.0", 256, d);
        w.Linear("t_embedder.mlp.2", d, d);
        w.Add("y_embedder.embedding_table.weight", 1f, 6, d);
        for (int i = 0; i < 2; i++)
        {
            w.Linear($"blocks.{i}.attn.qkv", d, 3 * d);
            w.Linear($"blocks.{i}.attn.proj", d, d);
            w.Linear($"blocks.{i}.mlp.fc1", d, 4 * d);
            w.Linear($"blocks.{i}.mlp.fc2", 4 * d, d);
            w.Linear($"blocks.{i}.adaLN_modulation.1", d, 6 * d);
        }
        w.Linear("final_layer.linear", d, p * p * 2 * channels);
        w.Linear("final_layer.adaLN_modulation.1", d, 2 * d);
        string path = Path.Combine(dir, $"dit{channels}.safetensors");
        SafetensorsWriter.Write(path, w.Tensors);
        return path;
    }

    // 2 heads of 16, 2 blocks, joint dim 24, pooled 20, pos_embed_max_size 8.
    private static string TinyMmdit(string dir)
    {
        const int d = 32, c = 4, p = 2;
        var w = new Writer(12);
        w.Add("pos_embed.proj.weight", 0.3f, d, c, p, p);
        w.Add("pos_embed.proj.bias", 0.02f, d);
        w.Linear("time_text_embed.timestep_embedder.linear_1", 256, d);
        w.Linear("time_text_embed.timestep_embedder.linear_2", d, d);
        w.Linear("time_text_embed.text_embedder.linear_1", 20, d);
        w.Linear("time_text_embed.text_embedder.linear_2", d, d);
        w.Linear("context_embedder", 24, d);
        for (int i = 0; i < 2; i++)
        {
            string b = $"transformer_blocks.{i}.";
            w.Linear(b + "norm1.linear", d, 6 * d);
            w.Linear(b + "norm1_context.linear", d, (i == 1 ? 2 : 6) * d);
            foreach (var n in new[] { "to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0" }) w.Linear(b + "attn." + n, d, d);
            if (i == 0) w.Linear(b + "attn.to_add_out", d, d);
            w.Linear(b + "ff.net.0.proj", d, 4 * d);
            w.Linear(b + "ff.net.2", 4 * d, d);
            if (i == 0)
            {
                w.Linear(b + "ff_context.net.0.proj", d, 4 * d);
                w.Linear(b + "ff_context.net.2", 4 * d, d);
            }
        }
        w.Linear("norm_out.linear", d, 2 * d);
        w.Linear("proj_out", d, p * p * c);
        string folder = Path.Combine(dir, "sd3");
        Directory.CreateDirectory(folder);
        SafetensorsWriter.Write(Path.Combine(folder, "diffusion_pytorch_model.safetensors"), w.Tensors);
        File.WriteAllText(Path.Combine(folder, "config.json"), """
            {"_class_name": "SD3Transformer2DModel", "sample_size": 8, "patch_size": 2, "in_channels": 4, "num_layers": 2,
             "attention_head_dim": 16, "num_attention_heads": 2, "joint_attention_dim": 24, "caption_projection_dim": 32,
             "pooled_projection_dim": 20, "out_channels": 4, "pos_embed_max_size": 8}
            """);
        return folder;
    }

    private static float[] Latent(string file, out int[] shape)
    {
        using var f = SafetensorsFile.Open(file);
        using var cpu = new Tessera.Cpu.CpuBackend(new Tessera.Cpu.CpuBackendOptions(Threads: 1));
        using var t = f.Load("latent", cpu);
        shape = t.Shape.Dims.ToArray();
        return t.ToFloatArray();
    }

    [Fact]
    public void Dit_without_vae_writes_the_latent_and_json_and_the_seed_repeats()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-diffuse-").FullName;
        try
        {
            string model = TinyDit(dir, 4), outPng = Path.Combine(dir, "a.png");
            var r = TesseraProcess.Run("diffuse", "--model", model, "--class", "3", "--steps", "3", "--size", "32x48", "--seed", "7", "--threads", "2", "-o", outPng, "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            using (var doc = JsonDocument.Parse(r.Stdout))
            {
                var root = doc.RootElement;
                Assert.Equal([Path.Combine(dir, "a.safetensors")], root.GetProperty("files").EnumerateArray().Select(e => e.GetString()));
                Assert.Equal(3, root.GetProperty("steps").GetInt32());
                Assert.True(root.GetProperty("ms_per_step").GetDouble() > 0);
                Assert.True(root.GetProperty("total_ms").GetDouble() >= root.GetProperty("ms_per_step").GetDouble() * 3);
            }
            var first = Latent(Path.Combine(dir, "a.safetensors"), out var shape);
            Assert.Equal([1, 4, 6, 4], shape);
            Assert.All(first, v => Assert.True(float.IsFinite(v)));
            var again = TesseraProcess.Run("diffuse", "--model", model, "--class", "3", "--steps", "3", "--size", "32x48", "--seed", "7", "--threads", "2", "-o", Path.Combine(dir, "b.png"));
            Assert.True(again.ExitCode == 0, again.Stderr);
            Assert.Equal(first, Latent(Path.Combine(dir, "b.safetensors"), out _));
            var other = TesseraProcess.Run("diffuse", "--model", model, "--class", "3", "--steps", "3", "--size", "32x48", "--seed", "8", "--threads", "2", "-o", Path.Combine(dir, "c.png"));
            Assert.True(other.ExitCode == 0, other.Stderr);
            Assert.NotEqual(first, Latent(Path.Combine(dir, "c.safetensors"), out _));
            var karras = TesseraProcess.Run("diffuse", "--model", model, "--class", "3", "--steps", "3", "--size", "32x48", "--threads", "2",
                "--sampler", "dpmpp_2m", "--schedule", "karras", "-o", Path.Combine(dir, "d.png"));
            Assert.True(karras.ExitCode == 0, karras.Stderr);
            Assert.All(Latent(Path.Combine(dir, "d.safetensors"), out _), v => Assert.True(float.IsFinite(v)));
            // DDPM on this learned-sigma DiT draws each step with the model's variance; the seed still repeats it.
            string[] ddpm = ["diffuse", "--model", model, "--class", "2", "--steps", "4", "--size", "32x32", "--threads", "2", "--sampler", "ddpm", "--cfg", "2"];
            var e1 = TesseraProcess.Run([.. ddpm, "-o", Path.Combine(dir, "e.png")]);
            Assert.True(e1.ExitCode == 0, e1.Stderr);
            var e2 = TesseraProcess.Run([.. ddpm, "-o", Path.Combine(dir, "f.png")]);
            Assert.True(e2.ExitCode == 0, e2.Stderr);
            var ddpmLatent = Latent(Path.Combine(dir, "e.safetensors"), out var ddpmShape);
            Assert.Equal([1, 4, 4, 4], ddpmShape);
            Assert.All(ddpmLatent, v => Assert.True(float.IsFinite(v)));
            Assert.Equal(ddpmLatent, Latent(Path.Combine(dir, "f.safetensors"), out _));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void Dit_with_a_taef2_decoder_writes_one_png_per_image()
    {
        Skip.IfNot(File.Exists(Taef2Decoder), $"taef2 is absent ({Taef2Decoder})");
        string dir = Directory.CreateTempSubdirectory("tessera-diffuse-").FullName;
        try
        {
            string model = TinyDit(dir, 32), outPng = Path.Combine(dir, "img.png");
            var r = TesseraProcess.Run("diffuse", "--model", model, "--vae", Taef2Decoder, "--class", "1", "--steps", "2", "--size", "64x32",
                "--batch", "2", "--sampler", "euler", "--cfg", "3", "--threads", "2", "-o", outPng, "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            using var doc = JsonDocument.Parse(r.Stdout);
            var files = doc.RootElement.GetProperty("files").EnumerateArray().Select(e => e.GetString()!).ToArray();
            Assert.Equal([Path.Combine(dir, "img-0.png"), Path.Combine(dir, "img-1.png")], files);
            foreach (var f in files)
            {
                var image = ImageDecoder.DecodeFile(f);
                Assert.Equal((64, 32), (image.Width, image.Height));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Dit_with_an_autoencoder_kl_folder_writes_pngs_of_its_factor()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-diffuse-").FullName;
        try
        {
            // A random AutoencoderKL pipeline folder (vae/ inside): factor 4, 4 latent channels.
            var rng = new Random(3);
            var ckpt = new Tessera.Models.Tests.Diffusion.AutoencoderKlCheckpoint(
                new Tessera.Models.Diffusion.Vae.AutoencoderKlConfig([16, 16, 32], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 4, SampleSize: 32),
                (_, scale, shape) => [.. Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))]);
            string pipeline = Path.Combine(dir, "pipeline");
            ckpt.WriteFolder(Path.Combine(pipeline, "vae"));
            string model = TinyDit(dir, 4), png = Path.Combine(dir, "kl.png");
            var r = TesseraProcess.Run("diffuse", "--model", model, "--vae", pipeline, "--class", "0", "--steps", "2", "--size", "24x16",
                "--sampler", "ddpm", "--threads", "2", "-o", png, "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            var image = ImageDecoder.DecodeFile(png);
            Assert.Equal((24, 16), (image.Width, image.Height));
            // Its factor is 4, so with patch 2 a side must be a multiple of 8, not 16.
            var odd = TesseraProcess.Run("diffuse", "--model", model, "--vae", pipeline, "--class", "0", "--steps", "2", "--size", "20x16", "-o", png);
            Assert.Equal(1, odd.ExitCode);
            Assert.Contains("latent factor 4 x patch 2 = 8", odd.Stderr);
            var none = TesseraProcess.Run("diffuse", "--model", model, "--vae", Path.Combine(dir, "absent"), "--class", "0", "-o", png);
            Assert.Equal(1, none.ExitCode);
            Assert.Contains("no such file or folder", none.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Mmdit_samples_from_text_embeddings_with_guidance()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-diffuse-").FullName;
        try
        {
            string model = TinyMmdit(dir), emb = Path.Combine(dir, "text.safetensors");
            var w = new Writer(13);
            w.Add("encoder_hidden_states", 1f, 1, 5, 24);
            w.Add("pooled_projections", 1f, 1, 20);
            SafetensorsWriter.Write(Path.Combine(dir, "cond-only.safetensors"), w.Tensors);
            w.Add("negative_encoder_hidden_states", 1f, 1, 5, 24);
            w.Add("negative_pooled_projections", 1f, 1, 20);
            SafetensorsWriter.Write(emb, w.Tensors);
            var r = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", emb, "--steps", "4", "--cfg", "5", "--size", "48x48",
                "--batch", "2", "--threads", "2", "-o", Path.Combine(dir, "m.png"), "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            var latent = Latent(Path.Combine(dir, "m.safetensors"), out var shape);
            Assert.Equal([2, 4, 6, 6], shape);
            Assert.All(latent, v => Assert.True(float.IsFinite(v)));
            var noNegative = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", Path.Combine(dir, "cond-only.safetensors"), "--steps", "2",
                "--size", "16x16", "-o", Path.Combine(dir, "n.png"));
            Assert.Equal(1, noNegative.ExitCode);
            Assert.Contains("negative_encoder_hidden_states", noNegative.Stderr);
            var noText = TesseraProcess.Run("diffuse", "--model", model, "--steps", "2", "-o", Path.Combine(dir, "n.png"));
            Assert.Equal(1, noText.ExitCode);
            Assert.Contains("--text-embeddings", noText.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Mmdit_text_embeddings_with_wrong_names_or_shapes_are_refused_by_name()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-diffuse-").FullName;
        try
        {
            string model = TinyMmdit(dir), o = Path.Combine(dir, "m.png");
            string File(string name, params (string Name, int[] Shape)[] tensors)
            {
                var w = new Writer(14);
                foreach (var (n, shape) in tensors) w.Add(n, 1f, shape);
                string path = Path.Combine(dir, name);
                SafetensorsWriter.Write(path, w.Tensors);
                return path;
            }
            string misnamed = File("misnamed.safetensors", ("prompt_embeds", [1, 5, 24]), ("pooled_prompt_embeds", [1, 20]));
            var r = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", misnamed, "--steps", "2", "--cfg", "1", "--size", "16x16", "-o", o);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("must hold encoder_hidden_states [B, T, 24] and pooled_projections [B, 20]", r.Stderr);
            string narrow = File("narrow.safetensors", ("encoder_hidden_states", [1, 5, 16]), ("pooled_projections", [1, 20]));
            r = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", narrow, "--steps", "2", "--cfg", "1", "--size", "16x16", "-o", o, "--json");
            Assert.Equal(1, r.ExitCode);
            Assert.Equal("", r.Stdout);
            Assert.Contains("encoder_hidden_states [1, 5, 16]", r.Stderr);
            Assert.Contains("[1 or 1, T, 24]", r.Stderr);
            string batch = File("batch3.safetensors", ("encoder_hidden_states", [3, 5, 24]), ("pooled_projections", [3, 20]));
            r = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", batch, "--steps", "2", "--cfg", "1", "--size", "16x16", "--batch", "2", "-o", o);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("[1 or 2, T, 24]", r.Stderr);
            var absent = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", Path.Combine(dir, "none.safetensors"), "--steps", "2", "-o", o);
            Assert.Equal(1, absent.ExitCode);
            Assert.Contains("no such file", absent.Stderr);
            var schedule = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", misnamed, "--schedule", "karras", "--steps", "2", "-o", o);
            Assert.Equal(1, schedule.ExitCode);
            Assert.Contains("takes only 'flow'", schedule.Stderr);
            var cls = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--steps", "2", "-o", o);
            Assert.Equal(1, cls.ExitCode);
            Assert.Contains("--class is for a class-conditional DiT", cls.Stderr);
            var shift = TesseraProcess.Run("diffuse", "--model", model, "--text-embeddings", misnamed, "--shift", "0", "--steps", "2", "-o", o);
            Assert.Equal(1, shift.ExitCode);
            Assert.Contains("--shift must be a finite number > 0, got 0", shift.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Bad_input_exits_1_naming_the_problem()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-diffuse-").FullName;
        try
        {
            string model = TinyDit(dir, 4), o = Path.Combine(dir, "x.png");
            var size = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--size", "40x32", "-o", o);
            Assert.Equal(1, size.ExitCode);
            Assert.Contains("latent factor 8 x patch 2 = 16", size.Stderr);
            var cls = TesseraProcess.Run("diffuse", "--model", model, "--class", "5", "--steps", "2", "--size", "32x32", "-o", o);
            Assert.Equal(1, cls.ExitCode);
            Assert.Contains("num_classes is 5", cls.Stderr);
            var steps = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--steps", "0", "-o", o);
            Assert.Equal(1, steps.ExitCode);
            Assert.Contains("--steps must be at least 1", steps.Stderr);
            var noClass = TesseraProcess.Run("diffuse", "--model", model, "--steps", "2", "--size", "32x32", "-o", o);
            Assert.Equal(1, noClass.ExitCode);
            Assert.Contains("--class", noClass.Stderr);
            var flow = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--steps", "2", "--size", "32x32", "--schedule", "flow", "-o", o);
            Assert.Equal(1, flow.ExitCode);
            Assert.Contains("MMDiT", flow.Stderr);
            var batch = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--batch", "0", "-o", o);
            Assert.Equal(1, batch.ExitCode);
            Assert.Contains("--batch must be 1 to 64, got 0", batch.Stderr);
            var sampler = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--steps", "2", "--size", "32x32", "--sampler", "dpm3", "-o", o);
            Assert.Equal(1, sampler.ExitCode);
            Assert.Contains("unknown sampler 'dpm3'", sampler.Stderr);
            Assert.Contains("ddpm, ddim, euler, euler_a, heun, dpmpp_2m, dpmpp_2m_karras, dpmpp_2s_a, lcm, flow_euler", sampler.Stderr);
            var schedule = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--steps", "2", "--size", "32x32", "--schedule", "cosine2", "-o", o);
            Assert.Equal(1, schedule.ExitCode);
            Assert.Contains("unknown --schedule 'cosine2'", schedule.Stderr);
            Assert.Contains("dit, karras, linear, scaled_linear, squaredcos_cap_v2", schedule.Stderr);
            var mmditFlag = TesseraProcess.Run("diffuse", "--model", model, "--class", "1", "--text-embeddings", o, "--steps", "2", "-o", o);
            Assert.Equal(1, mmditFlag.ExitCode);
            Assert.Contains("--text-embeddings is for an MMDiT", mmditFlag.Stderr);
            // With --json an error still leaves stdout empty (every command's convention: the message goes to stderr).
            var json = TesseraProcess.Run("diffuse", "--model", model, "--class", "9", "--steps", "2", "--size", "32x32", "-o", o, "--json");
            Assert.Equal(1, json.ExitCode);
            Assert.Equal("", json.Stdout);
            Assert.Contains("num_classes is 5", json.Stderr);
            Assert.False(File.Exists(Path.ChangeExtension(o, ".safetensors")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
