using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Diffusion;
using Tessera.Models.Tests.Nn;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The DiT on a random small checkpoint (3 heads of 12, 3 latent channels, 2 layers, patch 2, learned sigma so
/// 6 output channels, 5 classes plus the null class) written in diffusers' layout (config.json and
/// diffusion_pytorch_model.safetensors), against dit_reference.py: DiTTransformer2DModel's definitions in PyTorch,
/// float64. Also the trained 8x8 grid and an unsquare 6x10 one (positions rebuilt for it).</summary>
public sealed class DitTorchTests(DitTorchTests.Cases cases) : IClassFixture<DitTorchTests.Cases>
{
    public const int Heads = 3, HeadDim = 12, InChannels = 3, OutChannels = 6, Layers = 2, Patch = 2, SampleSize = 8, Classes = 5;
    private const int D = Heads * HeadDim;

    public sealed class Cases : IDisposable
    {
        private readonly List<(string Name, float[] Values, int[] Shape)> _params = [];

        /// <summary>Each case's class labels.</summary>
        public Dictionary<string, int[]> Labels { get; } = [];

        private readonly Random _rng = new(1515);

        public TorchReference Ref { get; } = new(seed: 151, script: "Diffusion/dit_reference.py");

        /// <summary>The diffusers folder the model is opened from.</summary>
        public string Folder { get; }

        public Cases()
        {
            var spec = new Dictionary<string, object>
            {
                ["kind"] = "dit", ["heads"] = Heads, ["headDim"] = HeadDim, ["inChannels"] = InChannels, ["outChannels"] = OutChannels,
                ["layers"] = Layers, ["patch"] = Patch, ["sampleSize"] = SampleSize, ["labelRows"] = Classes + 1, ["eps"] = 1e-5,
            };
            AddModel();
            AddCase("square", spec, [0f, 417.5f, 999f], [0, Classes - 1, Classes], 8, 8);
            AddCase("unsquare", spec, [250f, 3f], [2, 1], 6, 10);
            Ref.Run();
            Folder = Path.Combine(Ref.Dir, "dit");
            Directory.CreateDirectory(Folder);
            SafetensorsWriter.Write(Path.Combine(Folder, "diffusion_pytorch_model.safetensors"),
                [.. _params.Select(q => WeightTensor.FromValues(q.Name, q.Shape.Select(d => (long)d).ToArray(), q.Values))]);
            File.WriteAllText(Path.Combine(Folder, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["_class_name"] = "DiTTransformer2DModel", ["num_attention_heads"] = Heads, ["attention_head_dim"] = HeadDim,
                ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["num_layers"] = Layers, ["dropout"] = 0.0,
                ["norm_num_groups"] = 32, ["attention_bias"] = true, ["sample_size"] = SampleSize, ["patch_size"] = Patch,
                ["activation_fn"] = "gelu-approximate", ["num_embeds_ada_norm"] = Classes, ["upcast_attention"] = false,
                ["norm_type"] = "ada_norm_zero", ["norm_elementwise_affine"] = false, ["norm_eps"] = 1e-5,
            }));
        }

        private void AddCase(string name, Dictionary<string, object> spec, float[] t, int[] y, int h, int w)
        {
            int b = t.Length;
            Ref.Random($"{name}.x", 1.5f, b, InChannels, h, w);
            Ref.Add($"{name}.t", t, b);
            Ref.AddInts($"{name}.y", y, b);
            // Every case shares the one model: the reference reads it under the case's own prefix.
            foreach (var q in _params) Ref.Add($"{name}.model.{q.Name}", q.Values, q.Shape);
            Labels[name] = y;
            Ref.Case(name, spec);
        }

        private void Param(string name, float bound, params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, d) => a * d)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * bound);
            _params.Add((name, v, shape));
        }

        private void Linear(string name, int i, int o)
        {
            float bound = 1 / MathF.Sqrt(i); // PyTorch's default initialisation range (not adaLN-Zero's zeros: a test must see the path)
            Param(name + ".weight", bound, o, i);
            Param(name + ".bias", bound, o);
        }

        private void AddModel()
        {
            Param("pos_embed.proj.weight", 1 / MathF.Sqrt(InChannels * Patch * Patch), D, InChannels, Patch, Patch);
            Param("pos_embed.proj.bias", 0.3f, D);
            for (int l = 0; l < Layers; l++)
            {
                string p = $"transformer_blocks.{l}";
                Linear($"{p}.norm1.emb.timestep_embedder.linear_1", 256, D);
                Linear($"{p}.norm1.emb.timestep_embedder.linear_2", D, D);
                Param($"{p}.norm1.emb.class_embedder.embedding_table.weight", 1f, Classes + 1, D);
                Linear($"{p}.norm1.linear", D, 6 * D);
                foreach (var proj in new[] { "to_q", "to_k", "to_v", "to_out.0" }) Linear($"{p}.attn1.{proj}", D, D);
                Linear($"{p}.ff.net.0.proj", D, 4 * D);
                Linear($"{p}.ff.net.2", 4 * D, D);
            }
            Linear("proj_out_1", D, 2 * D);
            Linear("proj_out_2", D, Patch * Patch * OutChannels);
        }

        public void Dispose() => Ref.Dispose();
    }

    private Dit Open() => Dit.Open(cases.Ref.Cpu, cases.Folder);

    [SkippableTheory]
    [InlineData("square")]
    [InlineData("unsquare")]
    public void MatchesDiffusersDefinition(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var model = Open();
        using var wb = cases.Ref.Builder();
        var xDims = wb.Info($"{name}.x").Dims.Select(d => (int)d).ToArray();
        using var x = wb.Get($"{name}.x", xDims);
        using var t = wb.Get($"{name}.t", xDims[0]);
        int[] y = cases.Labels[name];
        using var output = model.Forward(x, t, y);
        var (expected, shape) = cases.Ref.Expected($"{name}.out");
        Assert.Equal([xDims[0], OutChannels, xDims[2], xDims[3]], output.Shape.Dims.ToArray());
        Assert.Equal(shape, output.Shape.Dims.ToArray());
        var got = output.ToFloatArray();
        double max = 0;
        for (int i = 0; i < got.Length; i++) max = Math.Max(max, Math.Abs(got[i] - expected[i]));
        Assert.True(max < 1e-4, $"{name}: max abs diff {max:E2} against dit_reference.py");
        Assert.True(expected.Max(Math.Abs) > 0.1f, "the reference output is too small for the comparison to mean anything");
    }

    [SkippableFact]
    public void EpsilonModelIsTheFirstChannelsAtAUniformTimestep()
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var model = Open();
        using var wb = cases.Ref.Builder();
        using var x = wb.Get("unsquare.x", 2, InChannels, 6, 10);
        using var t = Tensor.FromArray(cases.Ref.Cpu, new[] { 250f, 250f }, 2);
        using var full = model.Forward(x, t, [2, model.NullClass]);
        using var eps = model.AsEpsilonModel([2, model.NullClass])(x, 250);
        Assert.Equal([2, InChannels, 6, 10], eps.Shape.Dims.ToArray());
        var f = full.ToFloatArray();
        var e = eps.ToFloatArray();
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < InChannels * 60; i++)
                Assert.Equal(f[b * OutChannels * 60 + i], e[b * InChannels * 60 + i]);
    }

    [SkippableFact]
    public void LearnedSigmaSplitTakesTheChannelHalves()
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var model = Open();
        var (expected, _) = cases.Ref.Expected("square.out");
        using var all = Tensor.FromArray(cases.Ref.Cpu, expected, 3, OutChannels, 8, 8);
        var (eps, variance) = model.SplitLearnedSigma(all);
        using (eps)
        using (variance)
        {
            Assert.Equal([3, InChannels, 8, 8], eps.Shape.Dims.ToArray());
            var e = eps.ToFloatArray();
            var v = variance.ToFloatArray();
            int plane = 64;
            // sample 1, channel 2, pixel 5: the prediction is channel 2, the variance channel 2 + in_channels.
            Assert.Equal(expected[(1 * OutChannels + 2) * plane + 5], e[(1 * InChannels + 2) * plane + 5]);
            Assert.Equal(expected[(1 * OutChannels + 2 + InChannels) * plane + 5], v[(1 * InChannels + 2) * plane + 5]);
        }
    }
}
