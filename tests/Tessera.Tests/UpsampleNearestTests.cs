using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>Nearest upsampling's own kernel (and its fused addend) against the naive definition: widths past the
/// 16- and 8-lane permute blocks with odd tails, factors that do and do not divide the vector width, strided and
/// permuted inputs, strided and broadcast addends, f16/bf16 (the default body). Also the default body itself, which
/// backends without a kernel run.</summary>
public class UpsampleNearestTests
{
    private static OpRow Up(string label, In x, int sh, int sw) =>
        new($"Up {label} x{sh}x{sw} {x.DType.Name()}", [x], t => t[0].UpsampleNearest(sh, sw),
            r => NaiveConvTranspose.UpsampleNearest(r[0], sh, sw), check: Check.Exact);

    private static OpRow UpAdd(string label, In x, In add, int s) =>
        new($"UpAdd {label} x{s} {x.DType.Name()}", [x, add], t => t[0].UpsampleNearestAdd(t[1], s), r =>
        {
            var u = NaiveConvTranspose.UpsampleNearest(r[0], s, s);
            for (int i = 0; i < u.Length; i++) u.Data[i] += r[1].Data[i];
            return u;
        }, check: Check.Nmse);

    private static IEnumerable<OpRow> Rows()
    {
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

    private static readonly CpuOpRows s_rows = new(Rows);

    public static IEnumerable<object[]> Cases() => s_rows.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Op(string row, string backend) => s_rows.Check(row, backend);

    [Fact]
    public void The_default_body_matches_the_kernel()
    {
        var cpu = TestBackends.Get("cpu-2t");
        var rng = new Random(3);
        float[] Draw(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        using var x = Tensor.FromArray(cpu, Draw(2 * 3 * 5 * 19), 2, 3, 5, 19);
        using var a = Tensor.FromArray(cpu, Draw(2 * 3 * 10 * 38), 2, 3, 10, 38);
        using var kernel = x.UpsampleNearestAdd(a, 2);
        using var viaViews = Tensor.Empty(cpu, F32, new Shape(2, 3, 10, 38));
        Tensor.UpsampleNearestByViews(cpu, x, a, 2, 2, viaViews);
        Assert.Equal(viaViews.ToArray<float>(), kernel.ToArray<float>());
    }

    [Fact]
    public void A_wrong_addend_is_refused_with_the_shapes_named()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var x = Tensor.Zeros(cpu, F32, new Shape(1, 2, 3, 4));
        using var a = Tensor.Zeros(cpu, F32, new Shape(1, 2, 6, 7));
        var e = Assert.Throws<TesseraException>(() => x.UpsampleNearestAdd(a, 2));
        Assert.Contains("[1, 2, 6, 7]", e.Message);
        Assert.Contains("[1, 2, 3, 4]", e.Message);
    }
}
