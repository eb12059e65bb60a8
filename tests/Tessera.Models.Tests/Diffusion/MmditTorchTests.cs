using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Diffusion;
using Tessera.Models.Tests.Nn;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The MMDiT on random small checkpoints written in diffusers' SD3Transformer2DModel layout (config.json and
/// diffusion_pytorch_model.safetensors), against mmdit_reference.py (the SD3 paper's network as diffusers defines it,
/// float64): "sd3" (2 layers, no qk norm, no stored pos_embed so the table is built, an unsquare 4x6 grid cropped
/// from 8x8, batch 2) and "sd35" (3 layers, qk RMSNorm, a stored random pos_embed so only a model that reads it
/// matches, a 3x3 grid: an off-centre crop).</summary>
public sealed class MmditTorchTests(MmditTorchTests.Cases cases) : IClassFixture<MmditTorchTests.Cases>
{
    public const int Heads = 2, HeadDim = 16, InChannels = 4, OutChannels = 4, Patch = 2, SampleSize = 8, MaxSize = 8, Joint = 24, Pooled = 20;
    private const int D = Heads * HeadDim;

    public sealed class Cases : IDisposable
    {
        private readonly Random _rng = new(1517);
        private List<WeightTensor> _model = [];
        private string _case = "";

        public TorchReference Ref { get; } = new(seed: 153, script: "Diffusion/mmdit_reference.py");

        public string Folder(string name) => Path.Combine(Ref.Dir, name);

        public Cases()
        {
            AddCase("sd3", layers: 2, qkNorm: false, storedPositions: false, [1000f, 371.25f], tokens: 5, h: 8, w: 12);
            AddCase("sd35", layers: 3, qkNorm: true, storedPositions: true, [640f], tokens: 7, h: 6, w: 6);
            Ref.Run();
        }

        private void AddCase(string name, int layers, bool qkNorm, bool storedPositions, float[] t, int tokens, int h, int w)
        {
            int b = t.Length;
            (_case, _model) = (name, []);
            Ref.Random($"{name}.x", 1.5f, b, InChannels, h, w);
            Ref.Add($"{name}.t", t, b);
            Ref.Random($"{name}.ehs", 1f, b, tokens, Joint);
            Ref.Random($"{name}.pooled", 1f, b, Pooled);
            Param("pos_embed.proj.weight", 1 / MathF.Sqrt(InChannels * Patch * Patch), D, InChannels, Patch, Patch);
            Param("pos_embed.proj.bias", 0.3f, D);
            if (storedPositions) Param("pos_embed.pos_embed", 1f, 1, MaxSize * MaxSize, D);
            Linear("time_text_embed.timestep_embedder.linear_1", 256, D);
            Linear("time_text_embed.timestep_embedder.linear_2", D, D);
            Linear("time_text_embed.text_embedder.linear_1", Pooled, D);
            Linear("time_text_embed.text_embedder.linear_2", D, D);
            Linear("context_embedder", Joint, D);
            for (int l = 0; l < layers; l++)
            {
                string p = $"transformer_blocks.{l}.";
                bool last = l == layers - 1;
                Linear(p + "norm1.linear", D, 6 * D);
                Linear(p + "norm1_context.linear", D, (last ? 2 : 6) * D);
                foreach (var n in new[] { "to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj", "to_out.0" }) Linear(p + "attn." + n, D, D);
                if (!last) Linear(p + "attn.to_add_out", D, D);
                if (qkNorm)
                    foreach (var n in new[] { "norm_q", "norm_k", "norm_added_q", "norm_added_k" }) Param(p + "attn." + n + ".weight", 1.5f, HeadDim);
                Linear(p + "ff.net.0.proj", D, 4 * D);
                Linear(p + "ff.net.2", 4 * D, D);
                if (!last)
                {
                    Linear(p + "ff_context.net.0.proj", D, 4 * D);
                    Linear(p + "ff_context.net.2", 4 * D, D);
                }
            }
            Linear("norm_out.linear", D, 2 * D);
            Linear("proj_out", D, Patch * Patch * OutChannels);
            Ref.Case(name, new Dictionary<string, object>
            {
                ["kind"] = "mmdit", ["width"] = D, ["heads"] = Heads, ["patch"] = Patch, ["inChannels"] = InChannels, ["outChannels"] = OutChannels,
                ["maxSize"] = MaxSize, ["sampleSize"] = SampleSize, ["storedPositions"] = storedPositions, ["pooled"] = Pooled, ["joint"] = Joint,
                ["layers"] = layers, ["qkNorm"] = qkNorm,
            });
            string dir = Folder(name);
            Directory.CreateDirectory(dir);
            SafetensorsWriter.Write(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), _model);
            File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["_class_name"] = "SD3Transformer2DModel", ["sample_size"] = SampleSize, ["patch_size"] = Patch, ["in_channels"] = InChannels,
                ["num_layers"] = layers, ["attention_head_dim"] = HeadDim, ["num_attention_heads"] = Heads, ["joint_attention_dim"] = Joint,
                ["caption_projection_dim"] = D, ["pooled_projection_dim"] = Pooled, ["out_channels"] = OutChannels,
                ["pos_embed_max_size"] = MaxSize, ["dual_attention_layers"] = Array.Empty<int>(), ["qk_norm"] = qkNorm ? "rms_norm" : null,
            }));
        }

        private void Param(string name, float bound, params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, d) => a * d)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * bound);
            Ref.Add($"{_case}.model.{name}", v, shape);
            _model.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), v));
        }

        // PyTorch's default range, not adaLN-Zero's zeros: every path must carry signal.
        private void Linear(string name, int i, int o)
        {
            Param(name + ".weight", 1 / MathF.Sqrt(i), o, i);
            Param(name + ".bias", 1 / MathF.Sqrt(i), o);
        }

        public void Dispose() => Ref.Dispose();
    }

    [SkippableTheory]
    [InlineData("sd3")]
    [InlineData("sd35")]
    public void MatchesDiffusersDefinition(string name)
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var model = Mmdit.Open(cases.Ref.Cpu, cases.Folder(name));
        using var wb = cases.Ref.Builder();
        var xDims = wb.Info($"{name}.x").Dims.Select(d => (int)d).ToArray();
        int b = xDims[0];
        using var x = wb.Get($"{name}.x", xDims);
        using var t = wb.Get($"{name}.t", b);
        using var ehs = wb.Get($"{name}.ehs", b, -1, Joint);
        using var pooled = wb.Get($"{name}.pooled", b, Pooled);
        using var output = model.Forward(x, t, ehs, pooled);
        var (expected, shape) = cases.Ref.Expected($"{name}.out");
        Assert.Equal(shape, output.Shape.Dims.ToArray());
        var got = output.ToFloatArray();
        double max = 0;
        for (int i = 0; i < got.Length; i++) max = Math.Max(max, Math.Abs(got[i] - expected[i]));
        Assert.True(max < 1e-4, $"{name}: max abs diff {max:E2} against mmdit_reference.py");
        Assert.True(expected.Max(Math.Abs) > 0.1f, "the reference output is too small for the comparison to mean anything");
    }

    [Fact]
    public void BadInputsAreRefusedNamingShapes()
    {
        using var model = Mmdit.Open(cases.Ref.Cpu, cases.Folder("sd3"));
        var cpu = cases.Ref.Cpu;
        using var t = Tensor.FromArray(cpu, new[] { 1f }, 1);
        using var ehs = Tensor.Zeros(cpu, DType.F32, new Shape(1, 3, Joint));
        using var pooled = Tensor.Zeros(cpu, DType.F32, new Shape(1, Pooled));
        using var big = Tensor.Zeros(cpu, DType.F32, new Shape(1, InChannels, 18, 8));
        Assert.Contains("pos_embed_max_size 8", Assert.Throws<TesseraException>(() => model.Forward(big, t, ehs, pooled).Dispose()).Message, StringComparison.Ordinal);
        using var odd = Tensor.Zeros(cpu, DType.F32, new Shape(1, InChannels, 5, 8));
        Assert.Contains("[1, 4, 5, 8]", Assert.Throws<TesseraException>(() => model.Forward(odd, t, ehs, pooled).Dispose()).Message, StringComparison.Ordinal);
        using var x = Tensor.Zeros(cpu, DType.F32, new Shape(1, InChannels, 8, 8));
        using var wrongText = Tensor.Zeros(cpu, DType.F32, new Shape(1, 3, Joint + 1));
        Assert.Contains("encoder_hidden_states", Assert.Throws<TesseraException>(() => model.Forward(x, t, wrongText, pooled).Dispose()).Message, StringComparison.Ordinal);
        using var wrongPooled = Tensor.Zeros(cpu, DType.F32, new Shape(2, Pooled));
        Assert.Contains("pooled_projections", Assert.Throws<TesseraException>(() => model.Forward(x, t, ehs, wrongPooled).Dispose()).Message, StringComparison.Ordinal);
        using var ok = model.Forward(x, t, ehs, pooled);
        Assert.Equal([1, OutChannels, 8, 8], ok.Shape.Dims.ToArray());
    }

    [Fact]
    public void UnsupportedConfigsAreRefusedByKey()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-mmdit-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"dual_attention_layers": [0, 1]}""");
            Assert.Contains("dual_attention_layers", Assert.Throws<TesseraException>(() => MmditConfig.Load(dir)).Message, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"qk_norm": "layer_norm"}""");
            Assert.Contains("qk_norm", Assert.Throws<TesseraException>(() => MmditConfig.Load(dir)).Message, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"caption_projection_dim": 1000}""");
            Assert.Contains("caption_projection_dim", Assert.Throws<TesseraException>(() => MmditConfig.Load(dir)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
