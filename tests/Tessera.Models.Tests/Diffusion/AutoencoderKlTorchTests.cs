using Tessera.Models.Diffusion.Vae;
using Tessera.Models.Tests.Nn;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>AutoencoderKL on random weights against autoencoder_kl_reference.py (diffusers' architecture written out in
/// PyTorch, float64): the posterior's mean and log-variance, the decoder, and diffusers' tiled_decode and tiled_encode, on an SD-style
/// config (quant convs, 2 levels) and a FLUX-style one (no quant convs, shift factor, 3 levels, 2 layers a block);
/// largest absolute difference under 1e-4. The checkpoints are written in diffusers' published folder layout and
/// loaded from there, also with the pre-0.14 attention names.</summary>
public sealed class AutoencoderKlTorchTests(AutoencoderKlTorchTests.Cases cases) : IClassFixture<AutoencoderKlTorchTests.Cases>
{
    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 16, script: "Diffusion/autoencoder_kl_reference.py");

        internal Dictionary<string, AutoencoderKlCheckpoint> Checkpoints { get; } = [];

        public static readonly Dictionary<string, (AutoencoderKlConfig Config, int[] X, int[] Z, int Tile)> Specs = new()
        {
            ["sd"] = (new AutoencoderKlConfig([32, 64], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 8, SampleSize: 16),
                [2, 3, 16, 24], [1, 4, 20, 14], 8),
            ["flux"] = (new AutoencoderKlConfig([16, 32, 32], LayersPerBlock: 2, LatentChannels: 8, NormNumGroups: 4, ScalingFactor: 0.3611,
                ShiftFactor: 0.1159, UseQuantConv: false, UsePostQuantConv: false, SampleSize: 16), [1, 3, 20, 28], [1, 8, 10, 11], 4),
            // A mid block wider than the fused attention's head limit (SD's is 512): the attention runs unfused.
            ["wide"] = (new AutoencoderKlConfig([32, 288], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 16, SampleSize: 16),
                [1, 3, 8, 12], [1, 4, 6, 5], 4),
        };

        // Tiled encoding: the tile in latent positions and the overlap (a half, so that the blend spans 2 positions).
        public static readonly Dictionary<string, (int Tile, double Overlap)> EncodeTiles = new()
        {
            ["sd"] = (4, 0.5), ["flux"] = (4, 0.5), ["wide"] = (4, 0.25),
        };

        public Cases()
        {
            foreach (var (name, (config, x, z, tile)) in Specs)
            {
                Checkpoints[name] = new AutoencoderKlCheckpoint(config, (n, scale, shape) => Ref.Random($"{name}.model.{n}", scale, shape));
                Ref.Random($"{name}.x", 1f, x);
                Ref.Random($"{name}.z", 2f, z);
                Ref.Case(name, new()
                {
                    ["kind"] = "autoencoder_kl", ["tile"] = tile,
                    ["encode_tile"] = EncodeTiles[name].Tile, ["encode_overlap"] = EncodeTiles[name].Overlap,
                    ["config"] = new Dictionary<string, object>
                    {
                        ["block_out_channels"] = config.BlockOutChannels, ["layers_per_block"] = config.LayersPerBlock,
                        ["latent_channels"] = config.LatentChannels, ["norm_num_groups"] = config.NormNumGroups, ["in_channels"] = 3,
                        ["out_channels"] = 3, ["use_quant_conv"] = config.UseQuantConv, ["use_post_quant_conv"] = config.UsePostQuantConv,
                        ["mid_block_add_attention"] = config.MidBlockAddAttention,
                    },
                });
            }
            Ref.Run();
            foreach (var (name, ckpt) in Checkpoints)
            {
                ckpt.WriteFolder(Path.Combine(Ref.Dir, name, "vae"));
                ckpt.WriteFolder(Path.Combine(Ref.Dir, name + "-legacy"), legacyAttentionNames: true);
            }
        }

        public void Dispose() => Ref.Dispose();
    }

    private static void AssertClose(string what, (float[] Values, int[] Shape) expected, Tensor actual, double tolerance = 1e-4)
    {
        Assert.Equal(expected.Shape, actual.Shape.Dims.ToArray());
        var a = actual.ToFloatArray();
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - expected.Values[i]));
        Assert.True(max < tolerance, $"{what}: largest difference {max:E2} against the PyTorch reference");
    }

    private Tensor Input(string name)
    {
        var (_, x, z, _) = Cases.Specs[name.Split('.')[0]];
        var shape = name.EndsWith(".x", StringComparison.Ordinal) ? x : z;
        using var wb = cases.Ref.Builder();
        return Tensor.FromArray(cases.Ref.Cpu, wb.GetHost(name, shape), shape);
    }

    [SkippableTheory]
    [InlineData("sd")]
    [InlineData("flux")]
    [InlineData("wide")]
    public void EncoderDecoderAndTiledDecodeMatchDiffusersArchitecture(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        var spec = Cases.Specs[name];
        using var vae = AutoencoderKl.Open(cases.Ref.Cpu, Path.Combine(cases.Ref.Dir, name));   // the pipeline folder: vae/ inside
        Assert.Equal(spec.Config.BlockOutChannels, vae.Config.BlockOutChannels);
        Assert.Equal(1 << (spec.Config.BlockOutChannels.Length - 1), vae.SpatialFactor);
        using var x = Input(name + ".x");
        using (var posterior = vae.Encode(x))
        {
            AssertClose($"{name} mean", cases.Ref.Expected($"{name}.mean"), posterior.Mean);
            AssertClose($"{name} logvar", cases.Ref.Expected($"{name}.logvar"), posterior.LogVar);
        }
        var (encodeTile, encodeOverlap) = Cases.EncodeTiles[name];
        using (var tiled = vae.EncodeTiled(x, encodeTile, encodeOverlap))
        {
            AssertClose($"{name} tiled mean", cases.Ref.Expected($"{name}.tiled_mean"), tiled.Mean);
            AssertClose($"{name} tiled logvar", cases.Ref.Expected($"{name}.tiled_logvar"), tiled.LogVar);
            // Tiling changed the result (the networks saw only their tiles), so the match above is not the whole encode's.
            using var whole = vae.Encode(x);
            Assert.NotEqual(whole.Mean.ToFloatArray(), tiled.Mean.ToFloatArray());
        }
        using var z = Input(name + ".z");
        using (var image = vae.Decode(z)) AssertClose($"{name} decode", cases.Ref.Expected($"{name}.dec"), image);
        using (var tiled = vae.DecodeTiled(z, spec.Tile)) AssertClose($"{name} tiled decode", cases.Ref.Expected($"{name}.tiled"), tiled);
    }

    [SkippableTheory]
    [InlineData("sd")]
    [InlineData("flux")]
    public void DecodeModelLatentUndoesScalingAndShiftAndMapsToUnitRange(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        var config = Cases.Specs[name].Config;
        using var vae = AutoencoderKl.Open(cases.Ref.Cpu, Path.Combine(cases.Ref.Dir, name, "vae", "diffusion_pytorch_model.safetensors"));
        using var z = Input(name + ".z");
        using var modelLatent = vae.ToModelLatent(z);
        var zs = z.ToFloatArray();
        var ms = modelLatent.ToFloatArray();
        double shift = config.ShiftFactor ?? 0;
        for (int i = 0; i < zs.Length; i++) Assert.Equal((zs[i] - shift) * config.ScalingFactor, ms[i], 1e-5);
        using var image = vae.DecodeModelLatent(modelLatent);
        var (dec, shape) = cases.Ref.Expected($"{name}.dec");
        AssertClose($"{name} model latent", ([.. dec.Select(v => (v + 1) / 2)], shape), image);
    }

    [SkippableTheory]
    [InlineData("sd")]
    [InlineData("flux")]
    public void LegacyAttentionNamesLoadTheSameModel(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var current = AutoencoderKl.Open(cases.Ref.Cpu, Path.Combine(cases.Ref.Dir, name, "vae"));
        using var legacy = AutoencoderKl.Open(cases.Ref.Cpu, Path.Combine(cases.Ref.Dir, name + "-legacy"));
        using var z = Input(name + ".z");
        using var a = current.Decode(z);
        using var b = legacy.Decode(z);
        Assert.Equal(a.ToFloatArray(), b.ToFloatArray());
        AssertClose($"{name} legacy names", cases.Ref.Expected($"{name}.dec"), b);
    }

    [SkippableFact]
    public void LatentDecodersOpensTheFolderTheVaeFolderAndTheWeightFile()
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        string root = Path.Combine(cases.Ref.Dir, "flux");
        foreach (var path in new[] { root, Path.Combine(root, "vae"), Path.Combine(root, "vae", "diffusion_pytorch_model.safetensors") })
        {
            using var decoder = LatentDecoders.Open(cases.Ref.Cpu, path);
            var vae = Assert.IsType<AutoencoderKl>(decoder);
            Assert.False(vae.HasEncoder);
            Assert.Equal(8, decoder.LatentChannels);
            Assert.Equal(4, decoder.SpatialFactor);
        }
    }
}
