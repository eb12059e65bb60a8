using System.Text.Json;
using StbImageWriteSharp;
using Tessera.Cuda;
using Tessera.Cuda.Tests.Diffusion;
using Tessera.Formats;
using Tessera.Formats.Safetensors;

namespace Tessera.Cli.Tests;

/// <summary><c>--backend cuda</c> on the diffusion commands (issue 15, item 8), with the tiny random checkpoints of the
/// CUDA diffusion tests: <c>diffuse</c> (DiT, 2 DDIM steps, TAESD decoder), <c>vae decode</c> (TAESD) and <c>vae
/// encode</c> (AutoencoderKL folder). Each command line first runs with --backend cpu and must succeed, so the flags
/// are good; then with --backend cuda it must either run on the GPU and write the same kind of output (where a driver
/// and a device exist) or fail with exit code 1 and the one line the CLI prints for a bad input, naming why there is
/// no CUDA backend: no stack trace, nothing on stdout, no output file.</summary>
public sealed class CudaBackendFlagTests(TinyDiffusionCheckpoints files) : IClassFixture<TinyDiffusionCheckpoints>
{
    [Theory]
    [InlineData("diffuse")] [InlineData("vae decode")] [InlineData("vae encode")]
    public void Backend_cuda_reaches_the_cuda_backend_or_says_why_there_is_none(string verb)
    {
        string dir = Directory.CreateTempSubdirectory("tessera-cuda-flag-").FullName;
        try
        {
            string Out(string backend) => Path.Combine(dir, verb == "vae encode" ? $"latent-{backend}.safetensors" : $"image-{backend}.png");
            string[] Args(string backend) => verb switch
            {
                "diffuse" => ["diffuse", "--model", files.Dit, "--vae", files.TaesdDecoder, "--class", "1", "--steps", "2", "--sampler", "ddim",
                    "--size", "48x32", "--backend", backend, "-o", Out(backend), "--json"],
                "vae decode" => ["vae", "decode", "--model", files.TaesdDecoder, Latent(dir), "--backend", backend, "-o", Out(backend), "--json"],
                _ => ["vae", "encode", "--model", files.Kl, Image(dir), "--backend", backend, "-o", Out(backend), "--json"],
            };

            var cpu = TesseraProcess.Run(Args("cpu"));
            Assert.True(cpu.ExitCode == 0, cpu.Stderr);
            Assert.True(File.Exists(Out("cpu")));

            var cuda = TesseraProcess.Run(Args("cuda"));
            if (!CudaBackend.TryCreate(0, out var gpu, out string why))
            {
                Assert.Equal(1, cuda.ExitCode);
                Assert.Equal($"tessera {verb}: no CUDA backend: {why}", cuda.Stderr.Trim());
                Assert.Equal("", cuda.Stdout);
                Assert.False(File.Exists(Out("cuda")));
                return;
            }
            gpu.Dispose();
            Assert.True(cuda.ExitCode == 0, cuda.Stderr);
            using var doc = JsonDocument.Parse(cuda.Stdout);
            Assert.True(File.Exists(Out("cuda")), cuda.Stdout);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    // A TAESD latent [1, 4, 3, 5] under the name vae decode reads.
    private static string Latent(string dir)
    {
        string path = Path.Combine(dir, "latent.safetensors");
        var r = new Random(3);
        var v = new float[4 * 3 * 5];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(r.NextDouble() * 4 - 2);
        SafetensorsWriter.Write(path, [WeightTensor.FromValues("latent", [1, 4, 3, 5], v)]);
        return path;
    }

    // A 24x16 RGB PNG (multiples of the tiny AutoencoderKL's factor 2).
    private static string Image(string dir)
    {
        string path = Path.Combine(dir, "image.png");
        var px = new byte[24 * 16 * 3];
        new Random(4).NextBytes(px);
        using var f = File.Create(path);
        new ImageWriter().WritePng(px, 24, 16, ColorComponents.RedGreenBlue, f);
        return path;
    }
}
