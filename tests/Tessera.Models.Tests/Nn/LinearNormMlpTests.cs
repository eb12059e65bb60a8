using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>Linear, LayerNorm, RmsNorm, Mlp and GatedMlp against PyTorch (nn.Linear, nn.LayerNorm, written-out RMSNorm
/// and gated MLPs, in float64) at odd sizes: batch 2, sequence 7, width 33, hidden 17.</summary>
public sealed class LinearNormMlpTests(LinearNormMlpTests.Cases cases) : IClassFixture<LinearNormMlpTests.Cases>
{
    private const int B = 2, S = 7, D = 33, H = 17;

    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 11);

        public Cases()
        {
            var r = Ref;
            r.Random("linear.lin.weight", 0.3f, H, D); r.Random("linear.lin.bias", 0.3f, H); r.Random("linear.x", 1f, B, S, D);
            r.Case("linear", new() { ["kind"] = "linear", ["in"] = D, ["out"] = H, ["bias"] = true });

            r.Random("linear_act.lin.weight", 0.3f, H, D); r.Random("linear_act.x", 1f, B, S, D); r.Random("linear_act.residual", 1f, B, S, H);
            r.Case("linear_act", new() { ["kind"] = "linear", ["in"] = D, ["out"] = H, ["bias"] = false, ["act"] = "Gelu" });

            r.Random("ln.norm.weight", 1f, D); r.Random("ln.norm.bias", 1f, D); r.Random("ln.x", 3f, B, S, D);
            r.Case("ln", new() { ["kind"] = "layernorm", ["dim"] = D, ["eps"] = 1e-5, ["affine"] = true });
            r.Random("ln_plain.x", 3f, B, S, D);
            r.Case("ln_plain", new() { ["kind"] = "layernorm", ["dim"] = D, ["eps"] = 1e-6, ["affine"] = false });

            r.Random("rms.norm.weight", 1f, D); r.Random("rms.x", 3f, B, S, D);
            r.Case("rms", new() { ["kind"] = "rmsnorm", ["eps"] = 1e-6, ["addOne"] = false });
            r.Random("rms1.norm.weight", 0.5f, D); r.Random("rms1.x", 3f, B, S, D);
            r.Case("rms1", new() { ["kind"] = "rmsnorm", ["eps"] = 1e-5, ["addOne"] = true });

            foreach (var (name, act) in new[] { ("mlp_gelu", "Gelu"), ("mlp_quick", "QuickGelu") })
            {
                r.Random($"{name}.mlp.fc1.weight", 0.3f, H, D); r.Random($"{name}.mlp.fc1.bias", 0.3f, H);
                r.Random($"{name}.mlp.fc2.weight", 0.3f, D, H); r.Random($"{name}.mlp.fc2.bias", 0.3f, D);
                r.Random($"{name}.x", 1f, B, S, D);
                r.Case(name, new() { ["kind"] = "mlp", ["dim"] = D, ["hidden"] = H, ["act"] = act });
            }
            foreach (var (name, act) in new[] { ("swiglu", "Silu"), ("geglu", "GeluTanh") })
            {
                r.Random($"{name}.mlp.gate_proj.weight", 0.3f, H, D); r.Random($"{name}.mlp.up_proj.weight", 0.3f, H, D);
                r.Random($"{name}.mlp.down_proj.weight", 0.3f, D, H); r.Random($"{name}.x", 1f, B, S, D);
                r.Case(name, new() { ["kind"] = "gated", ["dim"] = D, ["hidden"] = H, ["act"] = act });
            }
            r.Run();
        }

        public void Dispose() => Ref.Dispose();
    }

    private TorchReference Ref => cases.Ref;

    private static void SkipWithoutTorch() => Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);

    [SkippableFact]
    public void Linear_with_bias_matches_nn_Linear()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("linear");
        var lin = Linear.Load(c.Pp("lin"), D, H);
        Assert.Equal((D, H), (lin.InFeatures, lin.OutFeatures));
        using var y = lin.Forward(c.Get("x"));
        NnAssert.Close("linear", y, Ref.Expected("linear.y"));
    }

    [SkippableFact]
    public void Linear_without_bias_fuses_activation_and_residual()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("linear_act");
        var lin = Linear.Load(c.Pp("lin"), D, H, bias: false);
        Assert.Null(lin.Bias);
        using var y = lin.Forward(c.Get("x"), new MatMulEpilogue(Activation: Activation.Gelu, Residual: c.Get("residual")));
        NnAssert.Close("linear gelu + residual", y, Ref.Expected("linear_act.y"));
    }

    [SkippableFact]
    public void Linear_with_bf16_and_in_out_weights_matches_the_f32_layer()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("linear");
        var x = c.Get("x");
        var f32 = Linear.Load(c.Pp("lin"), D, H);
        // bf16 weights stay bf16 (the f32 x bf16 matmul); the reference is the same weights rounded to bf16.
        using var bf = f32.Weight.To(DType.BF16);
        var rounded = bf.ToFloatArray();
        using var yBf = new Linear(bf, f32.Bias).Forward(x);
        using var wR = Tensor.FromArray(Ref.Cpu, rounded, H, D);
        using var yRef = new Linear(wR, f32.Bias).Forward(x);
        NnAssert.Close("linear bf16", yBf.ToFloatArray(), yRef.ToFloatArray());
        // PaddlePaddle's [in, out] storage gives the same layer.
        using var wt = f32.Weight.T;
        using var wIn = wt.Contiguous();
        using var yIn = new Linear(wIn, f32.Bias, LinearLayout.InOut).Forward(x);
        NnAssert.Close("linear [in, out]", yIn, Ref.Expected("linear.y"));
    }

    [SkippableTheory]
    [InlineData("ln"), InlineData("ln_plain")]
    public void LayerNorm_matches_nn_LayerNorm(string name)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        bool affine = name == "ln";
        var ln = LayerNorm.Load(c.Pp("norm"), D, affine ? 1e-5f : 1e-6f, affine);
        Assert.Equal(affine, ln.Weight is not null);
        using var y = ln.Forward(c.Get("x"));
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
    }

    [SkippableTheory]
    [InlineData("rms", false), InlineData("rms1", true)]
    public void RmsNorm_matches_the_written_out_reference(string name, bool addOne)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        var n = RmsNorm.Load(c.Pp("norm"), D, addOne ? 1e-5f : 1e-6f, addOne);
        using var y = n.Forward(c.Get("x"));
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
    }

    [SkippableTheory]
    [InlineData("mlp_gelu", Activation.Gelu), InlineData("mlp_quick", Activation.QuickGelu)]
    public void Mlp_matches_fc1_act_fc2(string name, Activation act)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        var mlp = Mlp.Load(c.Pp("mlp"), D, H, act);
        var x = c.Get("x");
        using var y = mlp.Forward(x);
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
        // The residual rides in fc2's epilogue.
        using var yr = mlp.Forward(x, x);
        var expected = Ref.Expected(name + ".y").Values.Zip(x.ToFloatArray(), (a, b) => a + b).ToArray();
        NnAssert.Close(name + " + residual", yr.ToFloatArray(), expected);
    }

    [SkippableTheory]
    [InlineData("swiglu", Activation.Silu), InlineData("geglu", Activation.GeluTanh)]
    public void GatedMlp_matches_down_of_act_gate_times_up(string name, Activation act)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        var mlp = GatedMlp.Load(c.Pp("mlp"), D, H, act);
        using var y = mlp.Forward(c.Get("x"));
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
    }

    [Fact]
    public void A_wrong_shape_weight_names_the_tensor_and_both_shapes()
    {
        using var wb = Ref.Builder();
        var e = Assert.Throws<WeightFormatException>(() => Linear.Load(wb.Pp("linear").Pp("lin"), H, D));
        Assert.Contains("linear.lin.weight", e.Message);
        Assert.Contains("[17, 33]", e.Message);
        Assert.Contains("[33, 17]", e.Message);
        var n = Assert.Throws<WeightFormatException>(() => LayerNorm.Load(wb.Pp("ln").Pp("norm"), D + 1));
        Assert.Contains("ln.norm.weight", n.Message);
        Assert.Contains("[34]", n.Message);
        var missing = Assert.Throws<WeightFormatException>(() => Mlp.Load(wb.Pp("mlp_gelu").Pp("mlp"), D, H, Activation.Gelu, fc1: "dense"));
        Assert.Contains("mlp_gelu.mlp.dense.weight", missing.Message);
    }

    [Fact]
    public void A_wrong_input_width_names_the_layer_shapes()
    {
        using var wb = Ref.Builder();
        var lin = Linear.Load(wb.Pp("linear").Pp("lin"), D, H);
        using var x = Tensor.Zeros(Ref.Cpu, DType.F32, new Shape(3, D + 2));
        var e = Assert.Throws<TesseraException>(() => lin.Forward(x));
        Assert.Contains("[3, 35]", e.Message);
        Assert.Contains("[17, 33]", e.Message);
    }
}
