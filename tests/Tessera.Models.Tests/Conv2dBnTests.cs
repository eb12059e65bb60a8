using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests;

/// <summary>The conv-with-folded-normalisation layer against a naive reference (double accumulation) of the unfolded
/// network: conv then batch norm, conv then a scalar affine, an input affine into a 1x1 conv, a transposed conv then
/// batch norm; odd sizes everywhere. Weights go through a safetensors file and the weight builder, as a model loads
/// them; the shape errors name the tensor.</summary>
public sealed class Conv2dBnTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-convbn-").FullName;
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));
    private readonly Random _rng = new(5);

    public void Dispose()
    {
        _cpu.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private float[] U(int n, double bound = 1, double center = 0) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)(center + (_rng.NextDouble() * 2 - 1) * bound))];

    private sealed record Bn(float[] G, float[] B, float[] M, float[] V);

    private Bn RandomBn(int o) => new(U(o, 0.5, 1), U(o, 0.3), U(o, 0.3), U(o, 0.4, 0.8));

    private string Write(string name, params (string Name, int[] Dims, float[] Values)[] tensors)
    {
        string path = Path.Combine(_dir, name + ".safetensors");
        SafetensorsWriter.Write(path, [.. tensors.Select(t => WeightTensor.FromValues(t.Name, [.. t.Dims.Select(d => (long)d)], t.Values))]);
        return path;
    }

    private static (string, int[], float[])[] BnTensors(string prefix, Bn bn) =>
    [
        ($"{prefix}.weight", [bn.G.Length], bn.G), ($"{prefix}.bias", [bn.G.Length], bn.B),
        ($"{prefix}.running_mean", [bn.G.Length], bn.M), ($"{prefix}.running_var", [bn.G.Length], bn.V),
    ];

    // Naive conv, NCHW, double accumulation: out[b, o, y, x] = bias[o] + sum w[o, c, ky, kx] in[b, g*cg + c, y*s - p + ky, x*s - p + kx].
    private static double[] NaiveConv(float[] x, int b, int c, int h, int w, float[] wt, float[] bias, int o, int k, int stride, int pad, int groups,
        out int oh, out int ow)
    {
        int cg = c / groups, og = o / groups;
        oh = (h + 2 * pad - k) / stride + 1;
        ow = (w + 2 * pad - k) / stride + 1;
        var y = new double[b * o * oh * ow];
        for (int n = 0; n < b; n++)
            for (int oc = 0; oc < o; oc++)
                for (int yy = 0; yy < oh; yy++)
                    for (int xx = 0; xx < ow; xx++)
                    {
                        double s = bias[oc];
                        int g = oc / og;
                        for (int ic = 0; ic < cg; ic++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = yy * stride - pad + ky, ix = xx * stride - pad + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)wt[((oc * cg + ic) * k + ky) * k + kx] * x[((n * c + g * cg + ic) * h + iy) * w + ix];
                                }
                        y[((n * o + oc) * oh + yy) * ow + xx] = s;
                    }
        return y;
    }

    private static void ApplyBn(double[] y, int o, int plane, Bn bn, double eps)
    {
        for (int i = 0; i < y.Length; i++)
        {
            int c = i / plane % o;
            y[i] = (y[i] - bn.M[c]) / Math.Sqrt(bn.V[c] + eps) * bn.G[c] + bn.B[c];
        }
    }

    private static void AssertClose(double[] want, float[] got)
    {
        Assert.Equal(want.Length, got.Length);
        double err = 0, norm = 0;
        for (int i = 0; i < want.Length; i++)
        {
            err += (want[i] - got[i]) * (want[i] - got[i]);
            norm += want[i] * want[i];
        }
        Assert.True(err / norm < 1e-10, $"nmse {err / norm:E2}");
    }

    [Theory]
    [InlineData(1, 3, 7, 3, 1, 1, 17, 13)]
    [InlineData(3, 7, 5, 3, 2, 1, 17, 33)]
    [InlineData(2, 7, 7, 3, 1, 7, 9, 17)]   // depthwise
    [InlineData(1, 5, 3, 1, 1, 1, 7, 65)]
    public void Conv_then_batch_norm_folds(int b, int c, int o, int k, int stride, int groups, int h, int w)
    {
        var wt = U(o * (c / groups) * k * k, 0.5);
        var bias = U(o, 0.2);
        var bn = RandomBn(o);
        string path = Write("cbn", [("conv.weight", [o, c / groups, k, k], wt), ("conv.bias", [o], bias), .. BnTensors("bn", bn)]);
        using var wb = WeightBuilder.Open(_cpu, path);
        var conv = Conv2dBn.Load(wb.Pp("conv"), wb.Pp("bn"), ConvNames.Torch, stride, stride, depthwise: groups > 1, eps: 1e-5);
        var x = U(b * c * h * w);
        using var xt = Tensor.FromArray(_cpu, x, b, c, h, w);
        using var y = conv.Forward(xt);
        var want = NaiveConv(x, b, c, h, w, wt, bias, o, k, stride, (k - 1) / 2, groups, out int oh, out int ow);
        ApplyBn(want, o, oh * ow, bn, 1e-5);
        Assert.Equal([b, o, oh, ow], y.Shape.Dims.ToArray());
        AssertClose(want, y.ToFloatArray());
        // The epilogue form: relu(conv(x)) * 0.5 - 1 in one op.
        using var z = conv.Forward(xt, Activation.Relu, 0.5f, -1f);
        AssertClose([.. want.Select(v => Math.Max(v, 0) * 0.5 - 1)], z.ToFloatArray());
    }

    [Fact]
    public void Scalar_affine_then_input_affine_fold_into_a_1x1_conv()
    {
        // conv(s_in x + t_in) * s + t, with Paddle's names and no bias stored (a zero bias).
        int c = 7, o = 5, h = 3, w = 17;
        var wt = U(o * c, 0.5);
        string path = Write("aff", ("c.w_0", [o, c, 1, 1], wt));
        using var wb = WeightBuilder.Open(_cpu, path);
        var fold = ConvFold.Read(wb.Pp("c"), ConvNames.Paddle).Affine(1.5, -0.25).InputAffine(0.75, 0.3);
        var conv = Conv2dBn.Create(wb.Pp("c"), fold);
        var x = U(c * h * w);
        using var xt = Tensor.FromArray(_cpu, x, 1, c, h, w);
        using var y = conv.Forward(xt);
        var xin = x.Select(v => (float)(0.75 * v + 0.3)).ToArray();
        var want = NaiveConv(xin, 1, c, h, w, wt, new float[o], o, 1, 1, 0, 1, out _, out _).Select(v => v * 1.5 - 0.25).ToArray();
        AssertClose(want, y.ToFloatArray());
    }

    [Fact]
    public void Transposed_conv_then_batch_norm_folds_per_output_channel()
    {
        int b = 2, c = 3, o = 5, h = 7, w = 9;   // weight [C, O, 2, 2], stride 2
        var wt = U(c * o * 4, 0.5);
        var bias = U(o, 0.2);
        var bn = RandomBn(o);
        string path = Write("tbn", [("t.weight", [c, o, 2, 2], wt), ("t.bias", [o], bias), .. BnTensors("bn", bn)]);
        using var wb = WeightBuilder.Open(_cpu, path);
        var deconv = ConvTranspose2dBn.Load(wb.Pp("t"), wb.Pp("bn"), ConvNames.Torch, ConvTranspose2dParams.Square(2));
        var x = U(b * c * h * w);
        using var xt = Tensor.FromArray(_cpu, x, b, c, h, w);
        using var y = deconv.Forward(xt);
        int oh = 2 * h, ow = 2 * w;
        var want = new double[b * o * oh * ow];
        for (int n = 0; n < b; n++)
            for (int oc = 0; oc < o; oc++)
                for (int yy = 0; yy < oh; yy++)
                    for (int xx = 0; xx < ow; xx++)
                    {
                        double s = bias[oc];
                        for (int ic = 0; ic < c; ic++)
                            s += (double)wt[((ic * o + oc) * 2 + yy % 2) * 2 + xx % 2] * x[((n * c + ic) * h + yy / 2) * w + xx / 2];
                        want[((n * o + oc) * oh + yy) * ow + xx] = s;
                    }
        ApplyBn(want, o, oh * ow, bn, 1e-5);
        AssertClose(want, y.ToFloatArray());
    }

    [Fact]
    public void Subnormal_weights_are_flushed_at_upload()
    {
        float tiny = float.Epsilon * 3;
        string path = Write("sub", ("c.weight", [1, 1, 1, 3], [1f, tiny, -tiny]));
        using var wb = WeightBuilder.Open(_cpu, path);
        var conv = Conv2dBn.Load(wb.Pp("c"), null, ConvNames.Torch);
        Assert.Equal([1f, 0f, 0f], conv.Weight.ToFloatArray());
    }

    [Fact]
    public void Misfit_tensors_and_folds_are_named()
    {
        var bn = RandomBn(4);
        string path = Write("bad", [("conv.weight", [3, 2, 3, 3], U(54)), ("conv.bias", [4], U(4)), ("one.weight", [3, 2, 3, 3], U(54)), .. BnTensors("bn", bn)]);
        using var wb = WeightBuilder.Open(_cpu, path);
        var e = Assert.Throws<WeightFormatException>(() => Conv2dBn.Load(wb.Pp("conv"), null, ConvNames.Torch));
        Assert.Contains("'conv.bias': holds 4 values, its conv [3, 2, 3, 3] has 3 output channels", e.Message);
        e = Assert.Throws<WeightFormatException>(() => Conv2dBn.Load(wb.Pp("one"), wb.Pp("bn"), ConvNames.Torch));
        Assert.Contains("'bn.weight': is f32 [4], expected [3]", e.Message);
        var e2 = Assert.Throws<TesseraException>(() => ConvFold.Read(wb.Pp("one"), ConvNames.Torch).InputAffine(2, 1));
        Assert.Contains("'one.weight' is [3, 2, 3, 3]: an input affine folds only into a 1x1 conv", e2.Message);
        e2 = Assert.Throws<TesseraException>(() => Conv2dBn.Load(wb.Pp("one"), null, ConvNames.Torch, depthwise: true));
        Assert.Contains("expected a depthwise [C, 1, kH, kW]", e2.Message);
        e = Assert.Throws<WeightFormatException>(() => Conv2dBn.Load(wb.Pp("none"), null, ConvNames.Torch));
        Assert.Contains("'none.weight': no such tensor", e.Message);
    }
}
