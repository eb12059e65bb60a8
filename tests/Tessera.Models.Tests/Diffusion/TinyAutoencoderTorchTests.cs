using Tessera.Models.Diffusion.Vae;
using Tessera.Models.Tests.Nn;
using Tessera.Tests.Reference;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The TAESD encoder and decoder, plain (4 latent channels) and FLUX.2's (32, with the GroupNorm pooling
/// branch), on random weights against diffusion_reference.py: taesd.py's modules written out in PyTorch, float64.</summary>
public sealed class TinyAutoencoderTorchTests(TinyAutoencoderTorchTests.Cases cases) : IClassFixture<TinyAutoencoderTorchTests.Cases>
{
    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 15, script: "Diffusion/diffusion_reference.py");

        public Cases()
        {
            foreach (bool mid in new[] { false, true })
            {
                int latent = mid ? 32 : 4;
                string enc = $"enc_{latent}", dec = $"dec_{latent}";
                AddEncoder(enc + ".model", latent, mid);
                Ref.Random(enc + ".x", 1f, 2, 3, 16, 24);
                Ref.Case(enc, new() { ["kind"] = "taesd", ["half"] = "encoder", ["latent"] = latent, ["mid"] = mid });
                AddDecoder(dec + ".model", latent, mid);
                Ref.Random(dec + ".x", 4f, 1, latent, 3, 2);
                Ref.Case(dec, new() { ["kind"] = "taesd", ["half"] = "decoder", ["latent"] = latent, ["mid"] = mid });
            }
            Ref.Run();
        }

        private void Conv(string name, int cin, int cout, int k, bool bias)
        {
            float bound = 1 / MathF.Sqrt(cin * k * k); // PyTorch's default initialisation range
            Ref.Random(name + ".weight", bound, cout, cin, k, k);
            if (bias) Ref.Random(name + ".bias", bound, cout);
        }

        private void Block(string name, bool mid)
        {
            for (int j = 0; j < 3; j++) Conv($"{name}.conv.{2 * j}", 64, 64, 3, true);
            if (!mid) return;
            Conv($"{name}.pool.0", 64, 256, 1, false);
            Ref.Random($"{name}.pool.1.weight", 1f, 256);
            Ref.Random($"{name}.pool.1.bias", 0.5f, 256);
            Conv($"{name}.pool.3", 256, 64, 1, false);
        }

        private void AddEncoder(string p, int latent, bool mid)
        {
            Conv($"{p}.0", 3, 64, 3, true);
            Block($"{p}.1", false);
            for (int stage = 0; stage < 3; stage++)
            {
                int i = 2 + 4 * stage;
                Conv($"{p}.{i}", 64, 64, 3, false);
                for (int j = 1; j <= 3; j++) Block($"{p}.{i + j}", mid && stage == 2);
            }
            Conv($"{p}.14", 64, latent, 3, true);
        }

        private void AddDecoder(string p, int latent, bool mid)
        {
            Conv($"{p}.1", latent, 64, 3, true);
            for (int stage = 0; stage < 3; stage++)
            {
                int i = 3 + 5 * stage;
                for (int j = 0; j < 3; j++) Block($"{p}.{i + j}", mid && stage == 0);
                Conv($"{p}.{i + 4}", 64, 64, 3, false);
            }
            Block($"{p}.18", false);
            Conv($"{p}.19", 64, 3, 3, true);
        }

        public void Dispose() => Ref.Dispose();
    }

    [SkippableTheory]
    [InlineData("enc_4")]
    [InlineData("dec_4")]
    [InlineData("enc_32")]
    [InlineData("dec_32")]
    public void MatchesTaesdPy(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var wb = cases.Ref.Builder();
        using var model = TinyAutoencoder.Load(wb.Pp(name).Pp("model"));
        Assert.Equal(name.StartsWith("enc", StringComparison.Ordinal), model.IsEncoder);
        Assert.Equal(name.EndsWith("32", StringComparison.Ordinal), model.HasMidBlock);
        using var x = wb.Get($"{name}.x", [.. wb.Info($"{name}.x").Dims.Select(d => (int)d)]);
        using var y = model.IsEncoder ? model.Encode(x) : model.Decode(x);
        var (expected, shape) = cases.Ref.Expected($"{name}.out");
        Assert.Equal(shape, y.Shape.Dims.ToArray());
        double nmse = Nmse.Of(expected, y.ToFloatArray());
        Assert.True(nmse < 1e-9, $"{name}: NMSE {nmse:E2} against taesd.py");
    }
}
