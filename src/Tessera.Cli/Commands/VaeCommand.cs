using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using StbImageWriteSharp;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Imaging;
using Tessera.Models.Diffusion.Vae;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera vae encode --model ENCODER IMAGE -o LATENT.safetensors</c> and <c>tessera vae decode --model
/// DECODER LATENT.safetensors -o OUT.png</c>: the latent is one f32 tensor named "latent" [1, C, H/8, W/8], images in
/// and out as the autoencoder takes them (TAESD: [0, 1]). Today's autoencoders: the TAESD family (TAESD, TAESDXL,
/// TAESD3, TAEF1, TAEF2), .pth or .safetensors; a diffusers AutoencoderKL folder is refused, naming why.</summary>
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
        var model = new Option<string>("--model") { Description = encode ? "the encoder file (taesd_encoder.pth, taef2_encoder.pth, .safetensors)" : "the decoder file", Required = true };
        var input = new Argument<string>(encode ? "IMAGE" : "LATENT") { Description = encode ? "the image" : "a safetensors file holding 'latent' [1, C, h, w]" };
        var output = new Option<string>("--out", "-o") { Description = encode ? "the latent file to write (.safetensors)" : "the PNG to write", Required = true };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object: file, shape, ms" };
        var cmd = new Command(verb, description) { model, input, output, threads, backend, json };
        cmd.SetAction(pr => InspectCommand.Guard($"vae {verb}", () =>
        {
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            using var vae = OpenModel(be, pr.GetValue(model)!);
            var clock = Stopwatch.StartNew();
            string outPath = pr.GetValue(output)!;
            int[] shape = encode ? Encode(be, vae, pr.GetValue(input)!, outPath) : Decode(be, vae, pr.GetValue(input)!, outPath);
            if (pr.GetValue(json)) Console.WriteLine(Report(outPath, shape, clock.Elapsed.TotalMilliseconds));
            else Console.WriteLine($"wrote {outPath} [{string.Join(", ", shape)}] in {clock.Elapsed.TotalMilliseconds:F0} ms");
            return 0;
        }));
        return cmd;
    }

    private static TinyAutoencoder OpenModel(IBackend backend, string path)
    {
        if (Directory.Exists(path))
            throw new TesseraException($"{path}: a diffusers AutoencoderKL folder; only the TAESD family of tiny autoencoders is implemented so far (give --model a taesd/taef2 encoder or decoder file)");
        if (!File.Exists(path)) throw new TesseraException($"{path}: no such file");
        return TinyAutoencoder.Open(backend, path);
    }

    private static int[] Encode(IBackend backend, TinyAutoencoder vae, string imagePath, string outPath)
    {
        if (!vae.IsEncoder) throw new TesseraException("--model is a TAESD decoder: encoding needs the encoder file");
        var image = ImageDecoder.DecodeFile(imagePath);
        if (image.Width % TinyAutoencoder.Factor != 0 || image.Height % TinyAutoencoder.Factor != 0)
            throw new TesseraException($"{imagePath} is {image.Width}x{image.Height}: both sides must be multiples of the latent factor {TinyAutoencoder.Factor}");
        using var x = ImageTensors.ToTensor(backend, image);
        using var latent = vae.Encode(x);
        SafetensorsWriter.Write(outPath, [WeightTensor.FromTensor("latent", latent)]);
        return latent.Shape.Dims.ToArray();
    }

    private static int[] Decode(IBackend backend, TinyAutoencoder vae, string latentPath, string outPath)
    {
        if (vae.IsEncoder) throw new TesseraException("--model is a TAESD encoder: decoding needs the decoder file");
        if (!File.Exists(latentPath)) throw new TesseraException($"{latentPath}: no such file");
        using var wb = WeightBuilder.Open(backend, latentPath);
        if (!wb.Contains("latent")) throw new TesseraException($"{latentPath} holds no tensor named 'latent'");
        var dims = wb.Info("latent").Dims;
        if (dims.Count != 4 || dims[0] != 1 || dims[1] != vae.LatentChannels)
            throw new TesseraException($"{latentPath}: 'latent' is [{string.Join(", ", dims)}], the decoder takes [1, {vae.LatentChannels}, h, w]");
        using var latent = wb.GetAs("latent", DType.F32, [.. dims.Select(d => (int)d)]);
        using var images = vae.Decode(latent);
        var image = ImageTensors.ToImage(images);
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
