using Tessera.Formats;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>A 2-D convolution with its weights (TAESD's conv: 3x3, padding 1, or 1x1, padding 0).</summary>
internal sealed record TaeConv(Tensor Weight, Tensor? Bias, int Stride)
{
    public static TaeConv Load(WeightBuilder wb, int cin, int cout, int kernel, bool bias, int stride = 1) =>
        new(wb.GetAs("weight", DType.F32, cout, cin, kernel, kernel), bias ? wb.GetAs("bias", DType.F32, cout) : null, stride);

    public int OutChannels => Weight.Dim(0);

    public Tensor Forward(Tensor x, Activation activation = Activation.None)
    {
        int k = Weight.Dim(2);
        return x.Conv2d(Weight, Bias, new Conv2dParams(Stride, Stride, k / 2, k / 2, Activation: activation));
    }
}

/// <summary>TAESD's Block: relu(conv(relu(conv(relu(conv(x))))) + skip(x)), the skip a 1x1 conv where the widths differ;
/// FLUX.2's variant first adds a pooling branch x + conv1x1(relu(GroupNorm(4, conv1x1(x, 4C)))) (the "mid block").</summary>
internal sealed record TaeBlock(TaeConv Conv0, TaeConv Conv1, TaeConv Conv2, TaeConv? Skip, TaeMidPool? Pool)
{
    public static TaeBlock Load(WeightBuilder wb, int cin, int cout, bool midPool) => new(
        TaeConv.Load(wb.Pp("conv.0"), cin, cout, 3, true),
        TaeConv.Load(wb.Pp("conv.2"), cout, cout, 3, true),
        TaeConv.Load(wb.Pp("conv.4"), cout, cout, 3, true),
        cin != cout ? TaeConv.Load(wb.Pp("skip"), cin, cout, 1, false) : null,
        midPool ? TaeMidPool.Load(wb.Pp("pool"), cin) : null);

    public Tensor Forward(Tensor x)
    {
        using var pooled = Pool?.Forward(x);
        var input = pooled ?? x;
        using var a = Conv0.Forward(input, Activation.Relu);
        using var b = Conv1.Forward(a, Activation.Relu);
        using var c = Conv2.Forward(b);
        using var skip = Skip?.Forward(input);
        using var sum = c + (skip ?? input);
        return sum.Map(UnaryOp.Relu);
    }
}

/// <summary>FLUX.2's pooling branch: x + conv1x1(relu(GroupNorm(4, conv1x1(x)))) with 4C channels inside.</summary>
internal sealed record TaeMidPool(TaeConv Expand, Tensor NormWeight, Tensor NormBias, TaeConv Project)
{
    public static TaeMidPool Load(WeightBuilder wb, int channels) => new(
        TaeConv.Load(wb.Pp("0"), channels, 4 * channels, 1, false),
        wb.GetAs("1.weight", DType.F32, 4 * channels), wb.GetAs("1.bias", DType.F32, 4 * channels),
        TaeConv.Load(wb.Pp("3"), 4 * channels, channels, 1, false));

    public Tensor Forward(Tensor x)
    {
        using var e = Expand.Forward(x);
        using var n = e.GroupNorm(4, NormWeight, NormBias);
        using var r = n.Map(UnaryOp.Relu);
        using var p = Project.Forward(r);
        return x + p;
    }
}
