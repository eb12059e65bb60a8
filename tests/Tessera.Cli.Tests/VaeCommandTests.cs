using System.Text.Json;
using StbImageWriteSharp;
using Tessera.Imaging;
using Tessera.Models.Diffusion.Vae;
using Tessera.Models.Tests.Diffusion;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera vae encode|decode</c> as a user runs them, with FLUX.2's real TAEF2 (../shared/models/vae/taef2)
/// on a 64x64 crop of scikit-image's astronaut: the --json object, the latent file's tensor, the decoded PNG close to
/// the input, and clear errors for a size off the latent factor and the wrong half; and a random-weight AutoencoderKL
/// in diffusers' folder layout (the pipeline folder, the vae/ folder, the weight file): encode, decode, --tile for both
/// (the tiled encode equal to the library's EncodeTiled), and errors that leave stdout empty even with --json.</summary>
public sealed class VaeCommandTests
{
    private static readonly string Dir = Path.GetFullPath(Path.Combine(TesseraProcess.RepoRoot, "..", "shared", "models", "vae", "taef2"));
    private static readonly string Encoder = Path.Combine(Dir, "taef2_encoder.pth"), Decoder = Path.Combine(Dir, "taef2_decoder.pth");
    private const string Astronaut = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";

    private static string Crop(string dir, int w, int h)
    {
        var src = ImageDecoder.DecodeFile(Astronaut).AsRgb();
        var px = new byte[w * h * 3];
        // A patch around the face (from x = 160, y = 60).
        for (int y = 0; y < h; y++) Array.Copy(src.Pixels, ((60 + y) * src.Width + 160) * 3, px, y * w * 3, w * 3);
        string path = Path.Combine(dir, $"crop{w}x{h}.png");
        using var f = File.Create(path);
        new ImageWriter().WritePng(px, w, h, ColorComponents.RedGreenBlue, f);
        return path;
    }

    [SkippableFact]
    public void Encode_then_decode_gives_the_image_back_and_json_names_the_latent()
    {
        Skip.IfNot(File.Exists(Encoder) && File.Exists(Decoder), $"taef2 is absent ({Dir})");
        Skip.IfNot(File.Exists(Astronaut), $"{Astronaut} is absent (apt-get install python3-skimage)");
        string dir = Directory.CreateTempSubdirectory("tessera-vae-").FullName;
        try
        {
            string image = Crop(dir, 64, 64), latent = Path.Combine(dir, "latent.safetensors"), png = Path.Combine(dir, "back.png");
            var enc = TesseraProcess.Run("vae", "encode", "--model", Encoder, image, "-o", latent, "--threads", "2", "--json");
            Assert.True(enc.ExitCode == 0, enc.Stderr);
            using (var doc = JsonDocument.Parse(enc.Stdout))
            {
                Assert.Equal([1, 32, 8, 8], doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
                Assert.Equal(latent, doc.RootElement.GetProperty("file").GetString());
                Assert.True(doc.RootElement.GetProperty("ms").GetDouble() > 0);
            }
            var dec = TesseraProcess.Run("vae", "decode", "--model", Decoder, latent, "-o", png, "--threads", "2");
            Assert.True(dec.ExitCode == 0, dec.Stderr);
            var a = ImageDecoder.DecodeFile(image).AsRgb().Pixels;
            var b = ImageDecoder.DecodeFile(png).AsRgb().Pixels;
            Assert.Equal(a.Length, b.Length);
            double se = 0;
            for (int i = 0; i < a.Length; i++) se += (a[i] - b[i]) * (double)(a[i] - b[i]);
            double psnr = 10 * Math.Log10(255.0 * 255.0 / (se / a.Length));
            Assert.True(psnr > 22, $"PSNR of the round trip {psnr:F2} dB");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void Bad_input_exits_1_naming_the_problem()
    {
        Skip.IfNot(File.Exists(Encoder) && File.Exists(Decoder), $"taef2 is absent ({Dir})");
        Skip.IfNot(File.Exists(Astronaut), $"{Astronaut} is absent (apt-get install python3-skimage)");
        string dir = Directory.CreateTempSubdirectory("tessera-vae-").FullName;
        try
        {
            string odd = Crop(dir, 60, 64), latent = Path.Combine(dir, "l.safetensors");
            var r = TesseraProcess.Run("vae", "encode", "--model", Encoder, odd, "-o", latent);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("latent factor 8", r.Stderr);
            var wrongHalf = TesseraProcess.Run("vae", "encode", "--model", Decoder, Crop(dir, 64, 64), "-o", latent);
            Assert.Equal(1, wrongHalf.ExitCode);
            Assert.Contains("decoder", wrongHalf.Stderr);
            var folder = TesseraProcess.Run("vae", "decode", "--model", dir, latent, "-o", Path.Combine(dir, "x.png"));
            Assert.Equal(1, folder.ExitCode);
            Assert.Contains("config.json", folder.Stderr);
            var tile = TesseraProcess.Run("vae", "encode", "--model", Encoder, Crop(dir, 64, 64), "-o", latent, "--tile", "32", "--json");
            Assert.Equal(1, tile.ExitCode);
            Assert.Equal("", tile.Stdout);
            Assert.Contains("--tile is for AutoencoderKL", tile.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static float[] ReadLatent(string file)
    {
        using var f = Tessera.Formats.Safetensors.SafetensorsFile.Open(file);
        using var cpu = new Tessera.Cpu.CpuBackend(new Tessera.Cpu.CpuBackendOptions(Threads: 1));
        using var t = f.Load("latent", cpu);
        return t.ToFloatArray();
    }

    // SD-like AutoencoderKL, small: factor 4, 4 latent channels, tiles of 32 pixels.
    private static string WriteAutoencoderKl(string dir)
    {
        var rng = new Random(9);
        var ckpt = new AutoencoderKlCheckpoint(new AutoencoderKlConfig([16, 16, 32], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 4, SampleSize: 32),
            (_, scale, shape) => [.. Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))]);
        string root = Path.Combine(dir, "pipeline");
        ckpt.WriteFolder(Path.Combine(root, "vae"));
        return root;
    }

    [SkippableFact]
    public void AutoencoderKl_folders_encode_and_decode_with_and_without_tiles()
    {
        Skip.IfNot(File.Exists(Astronaut), $"{Astronaut} is absent (apt-get install python3-skimage)");
        string dir = Directory.CreateTempSubdirectory("tessera-vae-").FullName;
        try
        {
            string root = WriteAutoencoderKl(dir), image = Crop(dir, 64, 48), latent = Path.Combine(dir, "latent.safetensors");
            var enc = TesseraProcess.Run("vae", "encode", "--model", root, image, "-o", latent, "--threads", "2", "--json");
            Assert.True(enc.ExitCode == 0, enc.Stderr);
            using (var doc = JsonDocument.Parse(enc.Stdout))
                Assert.Equal([1, 4, 12, 16], doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            string whole = Path.Combine(dir, "whole.png"), tiled = Path.Combine(dir, "tiled.png"), again = Path.Combine(dir, "again.png");
            var dec = TesseraProcess.Run("vae", "decode", "--model", Path.Combine(root, "vae"), latent, "-o", whole, "--tile", "0", "--json");
            Assert.True(dec.ExitCode == 0, dec.Stderr);
            using (var doc = JsonDocument.Parse(dec.Stdout))
                Assert.Equal([1, 3, 48, 64], doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            var t = TesseraProcess.Run("vae", "decode", "--model", Path.Combine(root, "vae", "diffusion_pytorch_model.safetensors"), latent, "-o", tiled, "--tile", "32");
            Assert.True(t.ExitCode == 0, t.Stderr);
            // Below the automatic threshold (1024 x 1024 pixels) the default decodes whole.
            var auto = TesseraProcess.Run("vae", "decode", "--model", root, latent, "-o", again);
            Assert.True(auto.ExitCode == 0, auto.Stderr);
            var a = ImageDecoder.DecodeFile(whole).AsRgb().Pixels;
            Assert.Equal(a, ImageDecoder.DecodeFile(again).AsRgb().Pixels);
            var b = ImageDecoder.DecodeFile(tiled).AsRgb();
            Assert.Equal((64, 48), (b.Width, b.Height));
            Assert.NotEqual(a, b.Pixels);

            var odd = TesseraProcess.Run("vae", "encode", "--model", root, Crop(dir, 64, 42), "-o", latent);
            Assert.Equal(1, odd.ExitCode);
            Assert.Contains("latent factor 4", odd.Stderr);
            var badTile = TesseraProcess.Run("vae", "decode", "--model", root, latent, "-o", tiled, "--tile", "30");
            Assert.Equal(1, badTile.ExitCode);
            Assert.Contains("spatial factor 4", badTile.Stderr);

            // Encoding in tiles of 32 pixels (8 latent positions, 2 blended): the library's tiled encode, not the whole one.
            string tiledLatent = Path.Combine(dir, "tiled-latent.safetensors");
            var te = TesseraProcess.Run("vae", "encode", "--model", root, image, "-o", tiledLatent, "--tile", "32", "--json");
            Assert.True(te.ExitCode == 0, te.Stderr);
            using (var doc = JsonDocument.Parse(te.Stdout))
                Assert.Equal([1, 4, 12, 16], doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            using (var cpu = new Tessera.Cpu.CpuBackend(new Tessera.Cpu.CpuBackendOptions(Threads: 2)))
            using (var vae = AutoencoderKl.Open(cpu, root, new AutoencoderKlOptions { TileSize = 0 }))
            using (var x = ImageTensors.ToTensor(cpu, ImageDecoder.DecodeFile(image), -1f, 1f))
            using (var want = vae.EncodeTiled(x, 8))
            using (var untiled = vae.Encode(x))
            {
                var got = ReadLatent(tiledLatent);
                Assert.Equal(want.Mean.ToFloatArray(), got);
                Assert.NotEqual(untiled.Mean.ToFloatArray(), got);
                Assert.Equal(untiled.Mean.ToFloatArray(), ReadLatent(latent));
            }
            var badEncodeTile = TesseraProcess.Run("vae", "encode", "--model", root, image, "-o", tiledLatent, "--tile", "6", "--json");
            Assert.Equal(1, badEncodeTile.ExitCode);
            Assert.Equal("", badEncodeTile.Stdout);
            Assert.Contains("spatial factor 4", badEncodeTile.Stderr);

            // A latent of the wrong channel count names both shapes.
            string wrong = Path.Combine(dir, "wrong.safetensors");
            Tessera.Formats.Safetensors.SafetensorsWriter.Write(wrong, [Tessera.Formats.WeightTensor.FromValues("latent", [1, 3, 4, 4], new float[48])]);
            var wrongLatent = TesseraProcess.Run("vae", "decode", "--model", root, wrong, "-o", tiled, "--json");
            Assert.Equal(1, wrongLatent.ExitCode);
            Assert.Equal("", wrongLatent.Stdout);
            Assert.Contains("'latent' is [1, 3, 4, 4], the decoder takes [1, 4, h, w]", wrongLatent.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
