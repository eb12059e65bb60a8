using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for conv2d (every parameter), patch embedding and bicubic resampling.
public static partial class OpTable
{
    private static OpRow Conv(string label, In x, In w, Conv2dParams p, bool bias = true)
    {
        var ins = bias ? new[] { x, w, In.Of(x.DType, w.BaseShape[0]) } : [x, w];
        string epi = p.HasEpilogue ? $" {p.Activation} *{p.OutScale}+{p.OutShift}" : "";
        return new($"Conv2d {label} {p.StrideH}x{p.StrideW}s {p.PadH}x{p.PadW}p {p.DilationH}x{p.DilationW}d g{p.Groups}{(bias ? " bias" : "")}{epi} {N(x.DType)}", ins,
            t => t[0].Conv2d(t[1], bias ? t[2] : null, p), r => NaiveImageOps.Conv2d(r[0], r[1], bias ? r[2] : null, p));
    }

    private static IEnumerable<OpRow> Image()
    {
        // ---- conv2d, NCHW, weights [O, C/groups, kH, kW].
        var sq = Conv2dParams.Square;
        yield return Conv("[1, 3, 7, 7] * [4, 3, 3, 3]", In.Of(F32, 1, 3, 7, 7), In.Of(F32, 4, 3, 3, 3), sq(1, 1, 1, 1));
        yield return Conv("[2, 3, 17, 13] * [5, 3, 3, 3]", In.Of(F32, 2, 3, 17, 13), In.Of(F32, 5, 3, 3, 3), sq(2, 1, 1, 1));
        yield return Conv("[2, 3, 17, 13] * [5, 3, 3, 3]", In.Of(F32, 2, 3, 17, 13), In.Of(F32, 5, 3, 3, 3), sq(2, 1, 1, 1), bias: false);
        yield return Conv("[1, 2, 9, 9] * [3, 2, 5, 5]", In.Of(F32, 1, 2, 9, 9), In.Of(F32, 3, 2, 5, 5), sq(1, 2, 1, 1));
        yield return Conv("[1, 3, 33, 33] * [8, 3, 7, 7]", In.Of(F32, 1, 3, 33, 33), In.Of(F32, 8, 3, 7, 7), sq(2, 3, 1, 1));
        yield return Conv("[1, 4, 17, 17] * [6, 4, 3, 3]", In.Of(F32, 1, 4, 17, 17), In.Of(F32, 6, 4, 3, 3), sq(1, 2, 2, 1));
        yield return Conv("[2, 4, 9, 11] * [6, 2, 3, 3]", In.Of(F32, 2, 4, 9, 11), In.Of(F32, 6, 2, 3, 3), sq(1, 1, 1, 2));
        yield return Conv("depthwise [1, 6, 13, 13] * [6, 1, 3, 3]", In.Of(F32, 1, 6, 13, 13), In.Of(F32, 6, 1, 3, 3), sq(1, 1, 1, 6));
        yield return Conv("depthwise x2 [1, 3, 7, 7] * [6, 1, 3, 3]", In.Of(F32, 1, 3, 7, 7), In.Of(F32, 6, 1, 3, 3), sq(2, 1, 1, 3));
        yield return Conv("depthwise [1, 6, 13, 13] * [6, 1, 3, 3]", In.Of(F32, 1, 6, 13, 13), In.Of(F32, 6, 1, 3, 3),
            new Conv2dParams(StrideH: 2, StrideW: 1, PadH: 2, PadW: 1, DilationH: 2, DilationW: 2, Groups: 6));
        yield return Conv("depthwise [2, 5, 17, 11] * [5, 1, 5, 5]", In.Of(F32, 2, 5, 17, 11), In.Of(F32, 5, 1, 5, 5), sq(2, 2, 1, 5));
        yield return Conv("depthwise x2 [1, 3, 9, 9] * [6, 1, 3, 3]", In.Of(F32, 1, 3, 9, 9), In.Of(F32, 6, 1, 3, 3), sq(1, 2, 2, 3));
        yield return Conv("depthwise [1, 4, 7, 7] * [4, 1, 3, 3]", In.Of(F16, 1, 4, 7, 7), In.Of(F16, 4, 1, 3, 3), sq(1, 1, 1, 4));
        yield return Conv("[1, 4, 11, 9] * [6, 2, 3, 5]", In.Of(F32, 1, 4, 11, 9), In.Of(F32, 6, 2, 3, 5),
            new Conv2dParams(StrideH: 1, StrideW: 2, PadH: 3, PadW: 1, DilationH: 2, DilationW: 1, Groups: 2));
        yield return Conv("[2, 4, 17, 17] * [6, 2, 3, 3]", In.Of(F32, 2, 4, 17, 17), In.Of(F32, 6, 2, 3, 3), sq(2, 1, 2, 2));
        yield return Conv("[1, 3, 11, 17] * [4, 3, 3, 5]", In.Of(F32, 1, 3, 11, 17), In.Of(F32, 4, 3, 3, 5),
            new Conv2dParams(StrideH: 2, StrideW: 1, PadH: 1, PadW: 2, DilationH: 1, DilationW: 2));
        yield return Conv("1x1 [2, 17, 5, 7] * [9, 17, 1, 1]", In.Of(F32, 2, 17, 5, 7), In.Of(F32, 9, 17, 1, 1), sq(1, 0, 1, 1));
        yield return Conv("full [1, 3, 5, 5] * [7, 3, 5, 5]", In.Of(F32, 1, 3, 5, 5), In.Of(F32, 7, 3, 5, 5), sq(1, 0, 1, 1));
        yield return Conv("[1, 16, 33, 33] * [32, 16, 3, 3]", In.Of(F32, 1, 16, 33, 33), In.Of(F32, 32, 16, 3, 3), sq(1, 1, 1, 1));
        // im2col in several bands, the last one partial: 86-row bands of at least 2048 output pixels (K = 576), and
        // 56-row bands held under the 16 MB band limit (K = 4608).
        yield return Conv("bands [1, 64, 100, 24] * [8, 64, 3, 3]", In.Of(F32, 1, 64, 100, 24), In.Of(F32, 8, 64, 3, 3), sq(1, 1, 1, 1));
        yield return Conv("capped bands [1, 512, 64, 16] * [2, 512, 3, 3]", In.Of(F32, 1, 512, 64, 16), In.Of(F32, 2, 512, 3, 3), sq(1, 1, 1, 1));
        // Winograd F(2x2, 3x3) (3x3, stride 1, pad 1, 32+ channels): odd H and W (partial 2 x 2 tiles, a partial
        // 16-tile group), output channels past whole 12-row panels, K past one 256-channel block, f16 in and out.
        yield return Conv("winograd [2, 33, 9, 19] * [37, 33, 3, 3]", In.Of(F32, 2, 33, 9, 19), In.Of(F32, 37, 33, 3, 3), sq(1, 1, 1, 1));
        yield return Conv("winograd [1, 260, 5, 41] * [70, 260, 3, 3]", In.Of(F32, 1, 260, 5, 41), In.Of(F32, 70, 260, 3, 3), sq(1, 1, 1, 1), bias: false);
        yield return Conv("winograd [1, 32, 6, 20] * [32, 32, 3, 3]", In.Of(F16, 1, 32, 6, 20), In.Of(F16, 32, 32, 3, 3), sq(1, 1, 1, 1));
        yield return Conv("NHWC perm [1, 3, 7, 9] * [4, 3, 3, 3]", In.Of(F32, 1, 7, 9, 3).Viewed(t => t.Permute(0, 3, 1, 2)), In.Of(F32, 4, 3, 3, 3), sq(1, 1, 1, 1));
        yield return Conv("[1, 3, 7, 7] * [4, 3, 3, 3]", In.Of(F16, 1, 3, 7, 7), In.Of(F16, 4, 3, 3, 3), sq(1, 1, 1, 1));
        yield return Conv("[2, 4, 9, 11] * [6, 2, 3, 3]", In.Of(BF16, 2, 4, 9, 11), In.Of(BF16, 6, 2, 3, 3), sq(2, 1, 1, 2));

        // ---- fused epilogue act(conv + bias) * scale + shift on every route: 1x1 GEMM (odd sizes, a one-pixel
        // output), im2col GEMM, depthwise (stride 1 and 2, 5x5), non-overlapping patches.
        foreach (var act in Enum.GetValues<Activation>())
            yield return Conv("1x1 [2, 17, 5, 7] * [9, 17, 1, 1]", In.Of(F32, 2, 17, 5, 7), In.Of(F32, 9, 17, 1, 1), new(Activation: act, OutScale: 0.75f, OutShift: -0.25f));
        yield return Conv("1x1 [1, 37, 3, 41] * [29, 37, 1, 1]", In.Of(F32, 1, 37, 3, 41), In.Of(F32, 29, 37, 1, 1), new(Activation: Activation.HardSwish));
        yield return Conv("1x1 [1, 37, 3, 41] * [29, 37, 1, 1]", In.Of(F32, 1, 37, 3, 41), In.Of(F32, 29, 37, 1, 1), new(Activation: Activation.Silu), bias: false);
        yield return Conv("1x1 pixel [2, 24, 1, 1] * [13, 24, 1, 1]", In.Of(F32, 2, 24, 1, 1), In.Of(F32, 13, 24, 1, 1), new(Activation: Activation.Relu, OutScale: 2f, OutShift: 1f));
        yield return Conv("[2, 4, 9, 11] * [6, 2, 1, 3]", In.Of(F32, 2, 4, 9, 11), In.Of(F32, 6, 2, 1, 3), new(PadW: 1, Groups: 2, Activation: Activation.Silu, OutScale: 1.5f));
        yield return Conv("[1, 16, 33, 33] * [32, 16, 3, 3]", In.Of(F32, 1, 16, 33, 33), In.Of(F32, 32, 16, 3, 3), new(2, 2, 1, 1, Activation: Activation.HardSwish, OutShift: 0.5f));
        yield return Conv("depthwise [2, 5, 17, 37] * [5, 1, 5, 5]", In.Of(F32, 2, 5, 17, 37), In.Of(F32, 5, 1, 5, 5), new(1, 1, 2, 2, Groups: 5, Activation: Activation.HardSwish, OutScale: 0.9f, OutShift: 0.1f));
        yield return Conv("depthwise [1, 6, 13, 19] * [6, 1, 5, 5]", In.Of(F32, 1, 6, 13, 19), In.Of(F32, 6, 1, 5, 5), new(2, 1, 2, 2, Groups: 6, Activation: Activation.Gelu));
        yield return Conv("depthwise x2 [1, 3, 9, 9] * [6, 1, 3, 3]", In.Of(F32, 1, 3, 9, 9), In.Of(F32, 6, 1, 3, 3), new(1, 2, 1, 1, Groups: 3, Activation: Activation.Relu), bias: false);
        yield return Conv("winograd [1, 40, 7, 37] * [70, 40, 3, 3]", In.Of(F32, 1, 40, 7, 37), In.Of(F32, 70, 40, 3, 3), new(1, 1, 1, 1, Activation: Activation.Silu, OutScale: 0.5f, OutShift: 0.25f));
        yield return Conv("patches [2, 3, 8, 12] * [5, 3, 4, 4]", In.Of(F32, 2, 3, 8, 12), In.Of(F32, 5, 3, 4, 4), new(4, 4, Activation: Activation.QuickGelu, OutScale: -1f, OutShift: 3f));
        yield return Conv("[1, 3, 7, 7] * [4, 3, 3, 3]", In.Of(F16, 1, 3, 7, 7), In.Of(F16, 4, 3, 3, 3), new(1, 1, 1, 1, Activation: Activation.HardSwish, OutScale: 0.5f));

        // ---- patch embedding [B, C, H, W] with [D, C, P, P] -> [B, (H/P)(W/P), D].
        OpRow Patch(string label, In x, In w, bool bias = true)
        {
            int p = w.BaseShape[2];
            var ins = bias ? new[] { x, w, In.Of(x.DType, w.BaseShape[0]) } : [x, w];
            return new($"PatchEmbed {label}{(bias ? " bias" : "")} {N(x.DType)}", ins,
                t => t[0].PatchEmbed(t[1], bias ? t[2] : null), r => NaiveImageOps.PatchEmbed(r[0], r[1], bias ? r[2] : null, p));
        }
        yield return Patch("[1, 3, 8, 12] P 4", In.Of(F32, 1, 3, 8, 12), In.Of(F32, 5, 3, 4, 4));
        yield return Patch("[2, 3, 16, 16] P 4", In.Of(F32, 2, 3, 16, 16), In.Of(F32, 7, 3, 4, 4));
        yield return Patch("[2, 3, 16, 16] P 4", In.Of(F32, 2, 3, 16, 16), In.Of(F32, 7, 3, 4, 4), bias: false);
        yield return Patch("[1, 3, 28, 28] P 14", In.Of(F32, 1, 3, 28, 28), In.Of(F32, 17, 3, 14, 14));
        yield return Patch("[2, 3, 32, 48] P 16", In.Of(F32, 2, 3, 32, 48), In.Of(F32, 96, 3, 16, 16));
        yield return Patch("[1, 1, 5, 5] P 5", In.Of(F32, 1, 1, 5, 5), In.Of(F32, 3, 1, 5, 5));
        yield return Patch("NHWC perm [1, 3, 8, 12] P 4", In.Of(F32, 1, 8, 12, 3).Viewed(t => t.Permute(0, 3, 1, 2)), In.Of(F32, 5, 3, 4, 4));
        yield return Patch("[1, 3, 8, 12] P 4", In.Of(F16, 1, 3, 8, 12), In.Of(F16, 5, 3, 4, 4));
        yield return Patch("[2, 3, 16, 16] P 4", In.Of(BF16, 2, 3, 16, 16), In.Of(BF16, 7, 3, 4, 4));

        // ---- bicubic resampling as PyTorch's interpolate(mode="bicubic"), both align_corners.
        foreach (bool ac in new[] { false, true })
        {
            OpRow Bic(string label, In x, int h, int w) =>
                new($"Bicubic {label} to {h}x{w} align {ac} {N(x.DType)}", [x], t => t[0].InterpolateBicubic(h, w, ac), r => NaiveImageOps.Bicubic(r[0], h, w, ac));
            yield return Bic("up [1, 2, 5, 7]", In.Of(F32, 1, 2, 5, 7), 11, 13);
            yield return Bic("down [2, 3, 17, 13]", In.Of(F32, 2, 3, 17, 13), 7, 5);
            yield return Bic("same [1, 1, 6, 9]", In.Of(F32, 1, 1, 6, 9), 6, 9);
            yield return Bic("mixed [1, 1, 8, 5]", In.Of(F32, 1, 1, 8, 5), 3, 12);
            yield return Bic("from 1x1 [1, 2, 1, 1]", In.Of(F32, 1, 2, 1, 1), 3, 4);
            yield return Bic("to 1x1 [1, 1, 5, 6]", In.Of(F32, 1, 1, 5, 6), 1, 1);
            yield return Bic("large ratio [1, 1, 4, 4]", In.Of(F32, 1, 1, 4, 4), 33, 65);
            yield return Bic("T [1, 2, 5, 7]", In.Of(F32, 1, 2, 7, 5).Viewed(t => t.Transpose(2, 3)), 9, 4);
            yield return Bic("up [1, 2, 5, 7]", In.Of(F16, 1, 2, 5, 7), 11, 13);
            yield return Bic("down [2, 3, 17, 13]", In.Of(BF16, 2, 3, 17, 13), 7, 5);
        }
    }
}
