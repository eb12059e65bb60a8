namespace Tessera.Tests;

/// <summary>Runs every <see cref="OpTable"/> row on every backend: one xunit case per (row, backend), named
/// by the row, so a failure reads as "MatMul 7x33x65 nt bf16 on cpu-2t: nmse ...".</summary>
public class OpTableTests
{
    public static IEnumerable<object[]> Cases() =>
        from row in OpTable.Rows.Keys
        from backend in TestBackends.Names
        select new object[] { row, backend };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Op(string row, string backend)
    {
        string? failure = OpRunner.Execute(OpTable.Rows[row], backend, TestBackends.Get(backend));
        Assert.True(failure is null, failure);
    }

    [Fact]
    public void TableCoversEveryOpOfTheSurface()
    {
        var names = OpTable.Rows.Keys.ToList();
        foreach (var op in Enum.GetNames<UnaryOp>().Concat(Enum.GetNames<BinaryOp>()))
            Assert.Contains(names, n => n.StartsWith(op + " "));
        foreach (var op in Enum.GetNames<ReduceOp>()) Assert.Contains(names, n => n.StartsWith("Reduce " + op + " "));
        foreach (var op in new[] { "Affine", "MatMul", "Softmax", "LayerNorm", "RmsNorm", "Rope", "Gather", "Concat", "Copy", "Fill", "Conv2d", "PatchEmbed", "Bicubic" })
            Assert.Contains(names, n => n.StartsWith(op + " "));
        foreach (var dt in new[] { " f32", " f16", " bf16" })
            Assert.Contains(names, n => n.StartsWith("MatMul") && n.EndsWith(dt));
    }
}
