using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for pooling, transposed convolution and nearest upsampling: newer ops that a backend may lack (the table then
// reports them unsupported there, from IBackend's default body). Nearest upsampling's default body is built from a
// broadcast view, Copy and Binary, so every backend runs its rows.
public static partial class OpTable
{
    private static OpRow Pool(PoolOp op, string label, In x, Pool2dParams p) =>
        new($"{op}Pool2d {label} k{p.KernelH}x{p.KernelW} s{p.StrideH}x{p.StrideW} p{p.PadH}x{p.PadW}{(p.CountIncludePad ? " incl" : "")} {N(x.DType)}",
            [x], t => t[0].Pool2d(op, p), r => NaiveImageOps.Pool2d(op, r[0], p),
            check: op == PoolOp.Max && x.DType == F32 ? Check.Exact : Check.Nmse);

    private static OpRow ConvT(string label, In x, In w, ConvTranspose2dParams p, bool bias = true)
    {
        int o = w.BaseShape[1] * p.Groups;
        var ins = bias ? new[] { x, w, In.Of(x.DType, o) } : [x, w];
        return new($"ConvTranspose2d {label} s{p.StrideH}x{p.StrideW} p{p.PadH}x{p.PadW} op{p.OutputPadH}x{p.OutputPadW} d{p.DilationH}x{p.DilationW} g{p.Groups}{(bias ? " bias" : "")} {N(x.DType)}",
            ins, t => t[0].ConvTranspose2d(t[1], bias ? t[2] : null, p), r => NaiveConvTranspose.ConvTranspose2d(r[0], r[1], bias ? r[2] : null, p));
    }

    private static OpRow Up(string label, In x, int sh, int sw) =>
        new($"UpsampleNearest {label} x{sh}x{sw} {N(x.DType)}", [x], t => t[0].UpsampleNearest(sh, sw),
            r => NaiveConvTranspose.UpsampleNearest(r[0], sh, sw), Check.Exact);

    private static OpRow UpAdd(string label, In x, In add, int s) =>
        new($"UpsampleNearest add {label} x{s} {N(x.DType)}", [x, add], t => t[0].UpsampleNearestAdd(t[1], s), r =>
        {
            var u = NaiveConvTranspose.UpsampleNearest(r[0], s, s);
            for (int i = 0; i < u.Length; i++) u.Data[i] += r[1].Data[i];
            return u;
        });

    private static IEnumerable<OpRow> Resampling()
    {
        // ---- average and max pooling: padding with and without counting it, global windows, views, f16/bf16.
        foreach (var op in new[] { PoolOp.Avg, PoolOp.Max })
        {
            yield return Pool(op, "[1, 2, 6, 8]", In.Of(F32, 1, 2, 6, 8), Pool2dParams.Square(2));
            yield return Pool(op, "[2, 3, 9, 7]", In.Of(F32, 2, 3, 9, 7), Pool2dParams.Square(3, 2, 1));
            yield return Pool(op, "[2, 3, 9, 7]", In.Of(F32, 2, 3, 9, 7), Pool2dParams.Square(3, 2, 1) with { CountIncludePad = true });
            yield return Pool(op, "[1, 5, 3, 80]", In.Of(F32, 1, 5, 3, 80), new Pool2dParams(3, 2, 3, 2)); // PP-OCRv4 rec neck
            yield return Pool(op, "[1, 4, 11, 13]", In.Of(F32, 1, 4, 11, 13), new Pool2dParams(5, 3, 2, 3, 2, 1));
            yield return Pool(op, "[1, 3, 17, 33] 1x1", In.Of(F32, 1, 3, 17, 33), new Pool2dParams(1, 1, 1, 1));
            yield return Pool(op, "global [2, 7, 17, 33]", In.Of(F32, 2, 7, 17, 33), new Pool2dParams(17, 33, 1, 1));
            yield return Pool(op, "NHWC perm [1, 3, 7, 9]", In.Of(F32, 1, 7, 9, 3).Viewed(t => t.Permute(0, 3, 1, 2)), Pool2dParams.Square(3, 1, 1));
            yield return Pool(op, "[1, 3, 7, 9]", In.Of(F16, 1, 3, 7, 9), Pool2dParams.Square(2, 1));
            yield return Pool(op, "[1, 3, 7, 9]", In.Of(BF16, 1, 3, 7, 9), Pool2dParams.Square(3, 2, 1));
        }
        yield return Pool(PoolOp.Avg, "many planes [4, 129, 5, 6]", In.Of(F32, 4, 129, 5, 6), new Pool2dParams(5, 6, 1, 1));

        // ---- transposed convolution: every parameter, the DB head's 2x2 stride-2 case, f16/bf16.
        var sq = ConvTranspose2dParams.Square;
        yield return ConvT("DB head [1, 24, 10, 12]", In.Of(F32, 1, 24, 10, 12), In.Of(F32, 24, 24, 2, 2), sq(2));
        yield return ConvT("DB head out [1, 24, 7, 9]", In.Of(F32, 1, 24, 7, 9), In.Of(F32, 24, 1, 2, 2), sq(2));
        yield return ConvT("[2, 3, 5, 7] 3x3", In.Of(F32, 2, 3, 5, 7), In.Of(F32, 3, 4, 3, 3), sq(1, 1));
        yield return ConvT("[1, 4, 6, 5] 3x3", In.Of(F32, 1, 4, 6, 5), In.Of(F32, 4, 3, 3, 3), sq(2, 1, 1), bias: false);
        yield return ConvT("[1, 4, 5, 6] 4x3", In.Of(F32, 1, 4, 5, 6), In.Of(F32, 4, 2, 4, 3),
            new ConvTranspose2dParams(StrideH: 3, StrideW: 2, PadH: 1, PadW: 2, OutputPadH: 2, OutputPadW: 1, DilationH: 1, DilationW: 2));
        yield return ConvT("groups [2, 6, 4, 5]", In.Of(F32, 2, 6, 4, 5), In.Of(F32, 6, 2, 3, 2),
            new ConvTranspose2dParams(StrideH: 2, StrideW: 1, PadH: 1, DilationH: 2, Groups: 3));
        yield return ConvT("depthwise [1, 5, 6, 6]", In.Of(F32, 1, 5, 6, 6), In.Of(F32, 5, 1, 3, 3), sq(2, 1, 1, 1, 5));
        yield return ConvT("NHWC perm [1, 3, 5, 7]", In.Of(F32, 1, 5, 7, 3).Viewed(t => t.Permute(0, 3, 1, 2)), In.Of(F32, 3, 4, 2, 2), sq(2));
        yield return ConvT("1x1 [1, 8, 3, 3]", In.Of(F32, 1, 8, 3, 3), In.Of(F32, 8, 5, 1, 1), sq());
        yield return ConvT("[1, 4, 5, 6]", In.Of(F16, 1, 4, 5, 6), In.Of(F16, 4, 3, 2, 2), sq(2));
        yield return ConvT("[1, 4, 5, 6]", In.Of(BF16, 1, 4, 5, 6), In.Of(BF16, 4, 3, 3, 3), sq(2, 1, 1));
        // The pixel-shuffle route (kernel = stride, no padding or dilation: every output pixel gets one tap): rows wide
        // enough for the 16-lane interleave plus a tail, one output channel (split over rows), kernels other than 2x2.
        yield return ConvT("shuffle [1, 6, 5, 37] -> 4", In.Of(F32, 1, 6, 5, 37), In.Of(F32, 6, 4, 2, 2), sq(2));
        yield return ConvT("shuffle [2, 5, 3, 33] -> 1", In.Of(F32, 2, 5, 3, 33), In.Of(F32, 5, 1, 2, 2), sq(2), bias: false);
        yield return ConvT("shuffle [1, 3, 4, 21] 3x2", In.Of(F32, 1, 3, 4, 21), In.Of(F32, 3, 2, 3, 2), new ConvTranspose2dParams(StrideH: 3, StrideW: 2));
        yield return ConvT("shuffle [1, 4, 3, 18] 3x3 groups", In.Of(F32, 1, 4, 3, 18), In.Of(F32, 4, 3, 3, 3), sq(3, 0, 0, 1, 2));
        yield return ConvT("shuffle perm [1, 4, 3, 20]", In.Of(F32, 1, 3, 20, 4).Viewed(t => t.Permute(0, 3, 1, 2)), In.Of(F32, 4, 2, 2, 2), sq(2));

        // ---- nearest upsampling and its fused addend: widths past the 16- and 8-lane permute blocks with odd tails,
        // factors that do and do not divide the vector width, strided and permuted inputs and addends, f16/bf16.
        yield return Up("[1, 2, 3, 4]", In.Of(F32, 1, 2, 3, 4), 2, 2);
        yield return Up("[2, 3, 5, 7]", In.Of(F32, 2, 3, 5, 7), 8, 8);
        yield return Up("[1, 3, 4, 5]", In.Of(F32, 1, 3, 4, 5), 3, 1);
        yield return Up("[1, 1, 1, 1]", In.Of(F32, 1, 1, 1, 1), 4, 4);
        yield return Up("perm [1, 3, 4, 5]", In.Of(F32, 1, 4, 5, 3).Viewed(t => t.Permute(0, 3, 1, 2)), 2, 2);
        yield return Up("[1, 2, 3, 3]", In.Of(BF16, 1, 2, 3, 3), 2, 2);
        yield return Up("[1, 3, 5, 37]", In.Of(F32, 1, 3, 5, 37), 2, 2);
        yield return Up("[2, 2, 3, 35]", In.Of(F32, 2, 2, 3, 35), 4, 4);
        yield return Up("[1, 2, 2, 33]", In.Of(F32, 1, 2, 2, 33), 8, 16);
        yield return Up("[1, 2, 3, 21]", In.Of(F32, 1, 2, 3, 21), 1, 32);
        yield return Up("[1, 3, 4, 19]", In.Of(F32, 1, 3, 4, 19), 3, 3);
        yield return Up("[1, 2, 3, 17]", In.Of(F32, 1, 2, 3, 17), 2, 1);
        yield return Up("rows [1, 2, 3, 40]", In.Of(F32, 1, 2, 5, 40).Viewed(t => t.Slice(2, 1, 4)), 2, 2);
        yield return Up("perm [1, 3, 4, 20]", In.Of(F32, 1, 4, 20, 3).Viewed(t => t.Permute(0, 3, 1, 2)), 2, 2);
        yield return Up("[1, 2, 3, 18]", In.Of(F16, 1, 2, 3, 18), 2, 2);
        yield return UpAdd("[1, 3, 5, 37]", In.Of(F32, 1, 3, 5, 37), In.Of(F32, 1, 3, 10, 74), 2);
        yield return UpAdd("[2, 2, 3, 21]", In.Of(F32, 2, 2, 3, 21), In.Of(F32, 2, 2, 12, 84), 4);
        yield return UpAdd("[1, 2, 3, 7]", In.Of(F32, 1, 2, 3, 7), In.Of(F32, 1, 2, 9, 21), 3);
        yield return UpAdd("perm addend [1, 3, 4, 20]", In.Of(F32, 1, 3, 4, 20), In.Of(F32, 1, 8, 40, 3).Viewed(t => t.Permute(0, 3, 1, 2)), 2);
        yield return UpAdd("broadcast addend [1, 2, 3, 24]", In.Of(F32, 1, 2, 3, 24), In.Broadcast(F32, [1, 2, 6, 1], [1, 2, 6, 48]), 2);
        yield return UpAdd("[1, 2, 3, 18]", In.Of(BF16, 1, 2, 3, 18), In.Of(BF16, 1, 2, 6, 36), 2);
    }
}
