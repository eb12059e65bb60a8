using Tessera.Cpu;
using Tessera.Imaging;
using Tessera.Models.Diffusion.Vae;
using Tessera.Models.Tests.Nn;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>FLUX.2's real tiny autoencoder (TAEF2, ../shared/models/vae/taef2) on real photographs from scikit-image's
/// data folder (Debian's python3-skimage): encode -> decode must give back the photo at a PSNR a working autoencoder
/// reaches (a broken layer drops it to single digits) and no lower than taesd.py's own modules in PyTorch (float64)
/// reach on the same crop; plus its shapes, its variant read off the weights, and bad input.</summary>
public sealed class TinyAutoencoderTests(ITestOutputHelper output)
{
    private const string PhotoDir = "/usr/lib/python3/dist-packages/skimage/data";

    private static string? Taef2(string half) => MnistDdpmSamplingTests.SharedModel("vae", "taef2", $"taef2_{half}.pth");

    [SkippableTheory]
    [InlineData("astronaut.png")]
    [InlineData("coffee.png")]
    [InlineData("chelsea.png")]
    public void Taef2RoundTripsRealPhotographs(string photo)
    {
        string? enc = Taef2("encoder"), dec = Taef2("decoder");
        Skip.If(enc is null || !File.Exists(enc) || !File.Exists(dec), $"taef2 is absent (../shared/models/vae/taef2: {enc})");
        string path = Path.Combine(PhotoDir, photo);
        Skip.IfNot(File.Exists(path), $"{path} is absent (apt-get install python3-skimage)");
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var encoder = TinyAutoencoder.Open(cpu, enc!);
        using var decoder = TinyAutoencoder.Open(cpu, dec!);
        Assert.True(encoder.IsEncoder && !decoder.IsEncoder);
        Assert.Equal(32, encoder.LatentChannels);
        Assert.True(encoder.HasMidBlock && decoder.HasMidBlock);

        // Crop to multiples of the latent factor (chelsea is 451x300).
        var full = ImageDecoder.DecodeFile(path).AsRgb();
        int w = full.Width / 8 * 8, h = full.Height / 8 * 8;
        var image = Crop(full, w, h);
        using var x = ImageTensors.ToTensor(cpu, image);
        using var latent = encoder.Encode(x);
        Assert.Equal(new Shape(1, 32, h / 8, w / 8), latent.Shape);
        using var y = decoder.Decode(latent);
        var back = ImageTensors.ToImage(y);
        double psnr = Psnr(image.Pixels, back.Pixels);
        output.WriteLine($"TAEF2 round trip of {photo} ({w}x{h}): PSNR {psnr:F2} dB");
        Assert.True(psnr > 27, $"PSNR {psnr:F2} dB");

        // PyTorch in float64 is slow here: the comparison runs on the photo's central 128x128.
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        const int side = 128;
        var crop = CropAt(image, (w - side) / 2 / 8 * 8, (h - side) / 2 / 8 * 8, side, side);
        using var xc = ImageTensors.ToTensor(cpu, crop);
        using var latentC = encoder.Encode(xc);
        using var yc = decoder.Decode(latentC);
        double cropPsnr = Psnr(crop.Pixels, ImageTensors.ToImage(yc).Pixels);
        using var reference = new TorchReference(seed: 0, script: "Diffusion/diffusion_reference.py");
        reference.Add("img.x", xc.ToFloatArray(), 1, 3, side, side);
        reference.Case("img", new() { ["kind"] = "taesd_files", ["encoder"] = enc!, ["decoder"] = dec!, ["latent"] = 32, ["mid"] = true });
        reference.Run();
        var (expected, shape) = reference.Expected("img.out");
        using var torchImages = Tensor.FromArray(cpu, expected, shape);
        double torchPsnr = Psnr(crop.Pixels, ImageTensors.ToImage(torchImages).Pixels);
        output.WriteLine($"central 128x128: Tessera PSNR {cropPsnr:F2} dB, taesd.py in PyTorch (float64) {torchPsnr:F2} dB");
        Assert.True(cropPsnr >= torchPsnr - 0.05, $"Tessera {cropPsnr:F2} dB, PyTorch {torchPsnr:F2} dB");
    }

    [SkippableFact]
    public void BadInputIsRefusedNamingTheFactorAndTheShape()
    {
        string? enc = Taef2("encoder"), dec = Taef2("decoder");
        Skip.If(enc is null || !File.Exists(enc) || !File.Exists(dec), $"taef2 is absent (../shared/models/vae/taef2: {enc})");
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var encoder = TinyAutoencoder.Open(cpu, enc!);
        using var decoder = TinyAutoencoder.Open(cpu, dec!);
        using var odd = Tensor.Zeros(cpu, DType.F32, new Shape(1, 3, 20, 16));
        Assert.Contains("latent factor 8", Assert.Throws<TesseraException>(() => encoder.Encode(odd)).Message);
        using var wrong = Tensor.Zeros(cpu, DType.F32, new Shape(1, 4, 2, 2));
        Assert.Contains("[B, 32, h, w]", Assert.Throws<TesseraException>(() => decoder.Decode(wrong)).Message);
        Assert.Contains("decoder", Assert.Throws<TesseraException>(() => decoder.Encode(odd)).Message);
    }

    internal static Image Crop(Image image, int w, int h) => CropAt(image, 0, 0, w, h);

    internal static Image CropAt(Image image, int x0, int y0, int w, int h)
    {
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++) Array.Copy(image.Pixels, ((y0 + y) * image.Width + x0) * 3, px, y * w * 3, w * 3);
        return new Image(px, w, h);
    }

    internal static double Psnr(byte[] a, byte[] b)
    {
        double se = 0;
        for (int i = 0; i < a.Length; i++) se += (a[i] - b[i]) * (double)(a[i] - b[i]);
        return 10 * Math.Log10(255.0 * 255.0 / (se / a.Length));
    }
}
