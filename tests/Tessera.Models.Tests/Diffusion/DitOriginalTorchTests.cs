using Tessera.Models.Diffusion;
using Tessera.Models.Tests.Nn;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The DiT from checkpoints in facebookresearch/DiT's own layout: random weights (width 128 so 2 heads of 64
/// by the heads-of-64 rule, 4 latent channels, 2 blocks, patch 2, learned sigma, 5 classes plus the null class) that
/// dit_original_reference.py writes with torch.save as DiT-XL-2-256x256.pt is written, loaded through the safe .pth
/// reader with no config, against that script's float64 forward written from the paper's models.py. Cases: a stored
/// (random, so only a model that reads it matches) pos_embed at its 4x4 grid; no pos_embed on an unsquare 3x5 grid
/// (the sin-cos table over patch indices); a training checkpoint whose "ema" weights are the model.</summary>
public sealed class DitOriginalTorchTests(DitOriginalTorchTests.Cases cases) : IClassFixture<DitOriginalTorchTests.Cases>
{
    public const int Width = 128, InChannels = 4, OutChannels = 8, Layers = 2, Patch = 2, SampleSize = 8, Classes = 5;

    public sealed class Cases : IDisposable
    {
        private readonly Random _rng = new(1516);

        public TorchReference Ref { get; } = new(seed: 152, script: "Diffusion/dit_original_reference.py");

        public Dictionary<string, int[]> Labels { get; } = [];

        public string Pt(string name) => Path.Combine(Ref.Dir, name + ".pt");

        public Cases()
        {
            AddCase("stored", storePositions: true, [0f, 417.5f, 999f], [0, Classes - 1, Classes], 8, 8);
            AddCase("computed", storePositions: false, [250f, 3f], [2, Classes], 6, 10);
            Ref.Run();
        }

        private void AddCase(string name, bool storePositions, float[] t, int[] y, int h, int w)
        {
            int b = t.Length;
            var spec = new Dictionary<string, object>
            {
                ["kind"] = "dit_original", ["width"] = Width, ["heads"] = 2, ["inChannels"] = InChannels, ["outChannels"] = OutChannels,
                ["layers"] = Layers, ["patch"] = Patch, ["sampleSize"] = SampleSize, ["labelRows"] = Classes + 1, ["pt"] = Pt(name),
            };
            if (storePositions) spec["training"] = Pt(name + "-training");
            Ref.Random($"{name}.x", 1.5f, b, InChannels, h, w);
            Ref.Add($"{name}.t", t, b);
            Ref.AddInts($"{name}.y", y, b);
            Labels[name] = y;
            string m = $"{name}.model.";
            Param(m + "x_embedder.proj.weight", 1 / MathF.Sqrt(InChannels * Patch * Patch), Width, InChannels, Patch, Patch);
            Param(m + "x_embedder.proj.bias", 0.3f, Width);
            if (storePositions) Param(m + "pos_embed", 1f, 1, (SampleSize / Patch) * (SampleSize / Patch), Width);
            Linear(m + "t_embedder.mlp.0", 256, Width);
            Linear(m + "t_embedder.mlp.2", Width, Width);
            Param(m + "y_embedder.embedding_table.weight", 1f, Classes + 1, Width);
            for (int l = 0; l < Layers; l++)
            {
                string p = $"{m}blocks.{l}.";
                Linear(p + "attn.qkv", Width, 3 * Width);
                Linear(p + "attn.proj", Width, Width);
                Linear(p + "mlp.fc1", Width, 4 * Width);
                Linear(p + "mlp.fc2", 4 * Width, Width);
                Linear(p + "adaLN_modulation.1", Width, 6 * Width);
            }
            Linear(m + "final_layer.linear", Width, Patch * Patch * OutChannels);
            Linear(m + "final_layer.adaLN_modulation.1", Width, 2 * Width);
            Ref.Case(name, spec);
        }

        private void Param(string name, float bound, params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, d) => a * d)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * bound);
            Ref.Add(name, v, shape);
        }

        // PyTorch's default initialisation range, not adaLN-Zero's zeros: the test must see every path.
        private void Linear(string name, int i, int o)
        {
            Param(name + ".weight", 1 / MathF.Sqrt(i), o, i);
            Param(name + ".bias", 1 / MathF.Sqrt(i), o);
        }

        public void Dispose() => Ref.Dispose();
    }

    [SkippableTheory]
    [InlineData("stored", "stored")]
    [InlineData("computed", "computed")]
    [InlineData("stored", "stored-training")]
    public void MatchesTheOriginalDefinition(string name, string file)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var model = Dit.Open(cases.Ref.Cpu, cases.Pt(file));
        Assert.Equal(DitLayout.Original, model.Config.Layout);
        Assert.Equal((2, 64, Layers, InChannels, OutChannels, Classes), (model.Config.NumAttentionHeads, model.Config.AttentionHeadDim,
            model.Config.NumLayers, model.Config.InChannels, model.Config.OutputChannels, model.Config.NumEmbedsAdaNorm));
        using var wb = cases.Ref.Builder();
        var xDims = wb.Info($"{name}.x").Dims.Select(d => (int)d).ToArray();
        using var x = wb.Get($"{name}.x", xDims);
        using var t = wb.Get($"{name}.t", xDims[0]);
        using var output = model.Forward(x, t, cases.Labels[name]);
        var (expected, shape) = cases.Ref.Expected($"{name}.out");
        Assert.Equal(shape, output.Shape.Dims.ToArray());
        var got = output.ToFloatArray();
        double max = 0;
        for (int i = 0; i < got.Length; i++) max = Math.Max(max, Math.Abs(got[i] - expected[i]));
        Assert.True(max < 1e-4, $"{file}: max abs diff {max:E2} against dit_original_reference.py");
        Assert.True(expected.Max(Math.Abs) > 0.1f, "the reference output is too small for the comparison to mean anything");
    }

    [SkippableFact]
    public void AStoredPositionTableRefusesAnotherGrid()
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var model = Dit.Open(cases.Ref.Cpu, cases.Pt("stored"));
        using var x = Tensor.Zeros(cases.Ref.Cpu, DType.F32, new Shape(1, InChannels, 6, 10));
        using var t = Tensor.FromArray(cases.Ref.Cpu, new[] { 5f }, 1);
        var e = Assert.Throws<TesseraException>(() => model.Forward(x, t, [1]).Dispose());
        Assert.Contains("4x4", e.Message, StringComparison.Ordinal);
        Assert.Contains("3x5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeadsFollowTheDitModelTable()
    {
        Assert.Equal(16, DitOriginal.HeadsForWidth(1152));
        Assert.Equal(16, DitOriginal.HeadsForWidth(1024));
        Assert.Equal(12, DitOriginal.HeadsForWidth(768));
        Assert.Equal(6, DitOriginal.HeadsForWidth(384));
        Assert.Equal(2, DitOriginal.HeadsForWidth(128));
        Assert.Contains("100", Assert.Throws<TesseraException>(() => DitOriginal.HeadsForWidth(100)).Message, StringComparison.Ordinal);
    }
}
