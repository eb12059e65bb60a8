using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>The transposed conv's pixel-shuffle route (kernel = stride, no padding or dilation: every output pixel
/// gets one tap) against <see cref="NaiveConvTranspose"/>: rows wide enough for the 16-lane interleave plus a tail,
/// one output channel (split over rows), kernels other than 2x2, a strided input.</summary>
public class ConvTransposeShuffleTests
{
    private static OpRow ConvT(string label, In x, In w, ConvTranspose2dParams p, bool bias)
    {
        int o = w.BaseShape[1] * p.Groups;
        var ins = bias ? new[] { x, w, In.Of(x.DType, o) } : [x, w];
        return new($"Shuffle {label} s{p.StrideH}x{p.StrideW} g{p.Groups}{(bias ? " bias" : "")}", ins,
            t => t[0].ConvTranspose2d(t[1], bias ? t[2] : null, p), r => NaiveConvTranspose.ConvTranspose2d(r[0], r[1], bias ? r[2] : null, p),
            check: Check.Nmse);
    }

    private static IEnumerable<OpRow> Rows()
    {
        var sq = ConvTranspose2dParams.Square;
        yield return ConvT("[1, 6, 5, 37] -> 4", In.Of(F32, 1, 6, 5, 37), In.Of(F32, 6, 4, 2, 2), sq(2), true);
        yield return ConvT("[2, 5, 3, 33] -> 1", In.Of(F32, 2, 5, 3, 33), In.Of(F32, 5, 1, 2, 2), sq(2), false);
        yield return ConvT("[1, 3, 4, 21] 3x2", In.Of(F32, 1, 3, 4, 21), In.Of(F32, 3, 2, 3, 2), new ConvTranspose2dParams(StrideH: 3, StrideW: 2), true);
        yield return ConvT("[1, 4, 3, 18] 3x3 groups", In.Of(F32, 1, 4, 3, 18), In.Of(F32, 4, 3, 3, 3), sq(3, 0, 0, 1, 2), true);
        yield return ConvT("perm [1, 4, 3, 20]", In.Of(F32, 1, 3, 20, 4).Viewed(t => t.Permute(0, 3, 1, 2)), In.Of(F32, 4, 2, 2, 2), sq(2), true);
    }

    private static readonly CpuOpRows s_rows = new(Rows);

    public static IEnumerable<object[]> Cases() => s_rows.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Op(string row, string backend) => s_rows.Check(row, backend);
}
