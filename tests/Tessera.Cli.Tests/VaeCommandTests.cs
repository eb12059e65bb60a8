using System.Text.Json;
using StbImageWriteSharp;
using Tessera.Imaging;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera vae encode|decode</c> as a user runs them, with FLUX.2's real TAEF2 (../shared/models/vae/taef2)
/// on a 64x64 crop of scikit-image's astronaut: the --json object, the latent file's tensor, the decoded PNG close to
/// the input, and clear errors for a size off the latent factor, the wrong half, and an AutoencoderKL folder.</summary>
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
            Assert.Contains("AutoencoderKL", folder.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
