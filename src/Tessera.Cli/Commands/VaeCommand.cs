using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using StbImageWriteSharp;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Imaging;
using Tessera.Models.Diffusion.Vae;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera vae encode --model ENCODER IMAGE -o LATENT.safetensors [--tile N]</c> and <c>tessera vae decode
/// --model DECODER LATENT.safetensors -o OUT.png [--tile N]</c>: the latent is one f32 tensor named "latent" [1, C, H/f, W/f],
/// unscaled (AutoencoderKL: the posterior mean, before the config's scaling and shift); images in and out as the
/// autoencoder takes them (TAESD: [0, 1], AutoencoderKL: [-1, 1]). Autoencoders: the TAESD family (TAESD, TAESDXL,
/// TAESD3, TAEF1, TAEF2), .pth or .safetensors, and diffusers' AutoencoderKL (a pipeline folder with vae/, the vae/
/// folder, or its weight file with config.json beside it).</summary>
internal static class VaeCommand
{
    public static Command Create()
    {
        var cmd = new Command("vae", "Encode an image to a latent or decode a latent to a PNG with a (tiny) autoencoder");
        cmd.Subcommands.Add(Half("encode", "Encode an image (PNG, JPEG, BMP) to LATENT.safetensors", encode: true));
        cmd.Subcommands.Add(Half("decode", "Decode LATENT.safetensors to a PNG", encode: false));
        return cmd;
    }

    private static Command Half(string verb, string description, bool encode)
    {
        var model = new Option<string>("--model") { Description = encode ? "the encoder file (taesd_encoder.pth, taef2_encoder.pth, .safetensors) or an AutoencoderKL folder" : "the decoder file or an AutoencoderKL folder", Required = true };
        var input = new Argument<string>(encode ? "IMAGE" : "LATENT") { Description = encode ? "the image" : "a safetensors file holding 'latent' [1, C, h, w]" };
        var output = new Option<string>("--out", "-o") { Description = encode ? "the latent file to write (.safetensors)" : "the PNG to write", Required = true };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object: file, shape, ms" };
        var tile = new Option<int?>("--tile") { Description = $"AutoencoderKL {verb}: tile side in image pixels, blended over a quarter tile as diffusers' tiled_{verb} (0: never tile; default: tiles of the config's sample_size above 1024x1024 pixels)" };
        var cmd = new Command(verb, description) { model, input, output, threads, backend, json, tile };
        cmd.SetAction(pr => InspectCommand.Guard($"vae {verb}", () =>
        {
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            using var vae = OpenModel(be, pr.GetValue(model)!, encode, pr.GetValue(tile));
            var clock = Stopwatch.StartNew();
            string outPath = pr.GetValue(output)!;
            int[] shape = encode ? Encode(be, vae, pr.GetValue(input)!, outPath) : Decode(be, vae, pr.GetValue(input)!, outPath);
            if (pr.GetValue(json)) Console.WriteLine(Report(outPath, shape, clock.Elapsed.TotalMilliseconds));
            else Console.WriteLine($"wrote {outPath} [{string.Join(", ", shape)}] in {clock.Elapsed.TotalMilliseconds:F0} ms");
            return 0;
        }));
        return cmd;
    }

    // TAESD files, or AutoencoderKL (either half, whatever the path holds).
    private static IDisposable OpenModel(IBackend backend, string path, bool encode, int? tile)
    {
        if (Directory.Exists(path) || AutoencoderKl.IsAutoencoderKl(path))
            return AutoencoderKl.Open(backend, path, new AutoencoderKlOptions { LoadEncoder = encode, LoadDecoder = !encode, TileSize = tile });
        if (!File.Exists(path)) throw new TesseraException($"{path}: no such file or folder");
        if (tile is not null) throw new TesseraException("--tile is for AutoencoderKL; TAESD autoencoders need no tiling");
        return TinyAutoencoder.Open(backend, path);
    }

    private static int[] Encode(IBackend backend, IDisposable model, string imagePath, string outPath)
    {
        if (model is TinyAutoencoder { IsEncoder: false }) throw new TesseraException("--model is a TAESD decoder: encoding needs the encoder file");
        var image = ImageDecoder.DecodeFile(imagePath);
        int factor = model is AutoencoderKl kl ? kl.SpatialFactor : TinyAutoencoder.Factor;
        if (image.Width % factor != 0 || image.Height % factor != 0)
            throw new TesseraException($"{imagePath} is {image.Width}x{image.Height}: both sides must be multiples of the latent factor {factor}");
        Tensor latent;
        if (model is AutoencoderKl vae)
        {
            using var x = ImageTensors.ToTensor(backend, image, -1f, 1f);
            using var posterior = vae.Encode(x);
            latent = posterior.Mean.Share();
        }
        else
        {
            using var x = ImageTensors.ToTensor(backend, image);
            latent = ((TinyAutoencoder)model).Encode(x);
        }
        using var _ = latent;
        SafetensorsWriter.Write(outPath, [WeightTensor.FromTensor("latent", latent)]);
        return latent.Shape.Dims.ToArray();
    }

    private static int[] Decode(IBackend backend, IDisposable model, string latentPath, string outPath)
    {
        if (model is TinyAutoencoder { IsEncoder: true }) throw new TesseraException("--model is a TAESD encoder: decoding needs the decoder file");
        if (!File.Exists(latentPath)) throw new TesseraException($"{latentPath}: no such file");
        int channels = ((ILatentDecoder)model).LatentChannels;
        using var wb = WeightBuilder.Open(backend, latentPath);
        if (!wb.Contains("latent")) throw new TesseraException($"{latentPath} holds no tensor named 'latent'");
        var dims = wb.Info("latent").Dims;
        if (dims.Count != 4 || dims[0] != 1 || dims[1] != channels)
            throw new TesseraException($"{latentPath}: 'latent' is [{string.Join(", ", dims)}], the decoder takes [1, {channels}, h, w]");
        using var latent = wb.GetAs("latent", DType.F32, [.. dims.Select(d => (int)d)]);
        Image image;
        if (model is AutoencoderKl vae)
        {
            using var images = vae.Decode(latent);
            image = ImageTensors.ToImage(images, 0, -1f, 1f);
        }
        else
        {
            using var images = ((TinyAutoencoder)model).Decode(latent);
            image = ImageTensors.ToImage(images);
        }
        WritePng(outPath, image);
        return [1, 3, image.Height, image.Width];
    }

    /// <summary>Writes an RGB image as a PNG.</summary>
    internal static void WritePng(string path, Image image)
    {
        using var f = File.Create(path);
        new ImageWriter().WritePng(image.AsRgb().Pixels, image.Width, image.Height, ColorComponents.RedGreenBlue, f);
    }

    private static string Report(string file, int[] shape, double ms)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("file", file);
            w.WriteStartArray("shape");
            foreach (int d in shape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteNumber("ms", Math.Round(ms, 1));
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
