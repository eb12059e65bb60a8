using Xunit.Abstractions;

namespace Tessera.Tests;

/// <summary>Runs every <see cref="OpTable"/> row on every backend: one xunit case per (row, backend), named
/// by the row, so a failure reads as "MatMul 7x33x65 nt bf16 on cpu-2t: nmse ...". A row whose member the backend
/// lacks is reported as skipped with the reason, never passed. The surface tests find IBackend's members by
/// reflection and fail for any member that no row exercises.</summary>
public class OpTableTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases() =>
        from row in OpTable.Rows.Keys
        from backend in TestBackends.Names
        select new object[] { row, backend };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Op(string row, string backend)
    {
        var outcome = OpTableLedger.Outcome(OpTable.Rows[row], backend);
        Skip.If(outcome.Result == RowResult.Unsupported, outcome.Message);
        Assert.True(outcome.Result == RowResult.Passed, outcome.Message);
    }

    [Fact]
    public void Every_member_of_IBackend_is_exercised_by_a_row()
    {
        var uncovered = BackendSurface.Ops.Where(op => !OpTable.Rows.Values.Any(r => r.Ops.Contains(op))).ToArray();
        Assert.True(uncovered.Length == 0,
            $"IBackend members no op-table row exercises: {string.Join(", ", uncovered)}. Add rows (named after the member, or with Ops = [nameof(IBackend.X)]).");
    }

    [Fact]
    public void Every_row_names_the_members_it_exercises()
    {
        var unnamed = OpTable.Rows.Values.Where(r => r.Ops.Length == 0 && !BackendSurface.IsFrontEndOnly(r.Name) || r.Ops.Any(op => !BackendSurface.Ops.Contains(op)))
            .Select(r => $"'{r.Name}' ({(r.Ops.Length == 0 ? "none" : string.Join(", ", r.Ops))})").ToArray();
        Assert.True(unnamed.Length == 0,
            $"rows whose name's first word is no IBackend member, UnaryOp, BinaryOp or alias, and that set no Ops: {string.Join("; ", unnamed.Take(10))}");
    }

    [Fact]
    public void Every_kind_of_the_op_enums_has_a_row()
    {
        var names = OpTable.Rows.Keys.ToList();
        foreach (var op in Enum.GetNames<UnaryOp>().Concat(Enum.GetNames<BinaryOp>()))
            Assert.True(names.Any(n => n.StartsWith(op + " ")), $"no row for {op}");
        foreach (var op in Enum.GetNames<ReduceOp>())
            Assert.True(names.Any(n => n.StartsWith("Reduce " + op + " ")), $"no row for Reduce {op}");
        foreach (var op in Enum.GetNames<PoolOp>())
            Assert.True(names.Any(n => n.StartsWith(op + "Pool2d ")), $"no row for {op} pooling");
        foreach (var dt in new[] { " f32", " f16", " bf16" })
            Assert.True(names.Any(n => n.StartsWith("MatMul") && n.EndsWith(dt)), $"no MatMul row of{dt}");
    }

    [Fact]
    public void Reflection_finds_the_surface_and_what_a_backend_implements()
    {
        Assert.Contains(nameof(IBackend.MatMul), BackendSurface.Ops);
        Assert.Contains(nameof(IBackend.Pool2d), BackendSurface.Ops); // a member with a default body
        foreach (var notOp in new[] { "Allocate", "AllocateUninitialized", "CopyFromHost", "CopyToHost", "Dispose", "get_Name", "get_Device" })
            Assert.DoesNotContain(notOp, BackendSurface.Ops);
        var cpu = TestBackends.Get("cpu-1t");
        using var bare = new BareBackend(cpu);
        Assert.True(BackendSurface.Implements(cpu, nameof(IBackend.Pool2d)));
        Assert.False(BackendSurface.Implements(bare, nameof(IBackend.Pool2d)));
        Assert.True(BackendSurface.Implements(bare, nameof(IBackend.MatMul)));
        Assert.Equal([nameof(IBackend.Unary)], BackendSurface.OpsNamed("Exp [7] f32"));
        Assert.Equal([nameof(IBackend.Binary)], BackendSurface.OpsNamed("Max [1] [1] f32"));
        Assert.Equal([nameof(IBackend.Pool2d)], BackendSurface.OpsNamed("AvgPool2d [1, 2, 6, 8] f32"));
        Assert.Empty(BackendSurface.OpsNamed("Frobnicate [3] f32"));
        Assert.True(BackendSurface.IsFrontEndOnly("Arange 0 count 7 step 1 f32"));
    }

    [Fact]
    public void A_row_whose_member_the_backend_lacks_is_unsupported_and_a_wrong_row_fails()
    {
        var cpu = TestBackends.Get("cpu-1t");
        using var bare = new BareBackend(cpu);
        var pool = OpTable.Rows.Values.First(r => r.Ops.Contains(nameof(IBackend.Pool2d)));
        var pooled = OpTableLedger.Classify(pool, "bare", bare);
        Assert.Equal(RowResult.Unsupported, pooled.Result);
        Assert.Contains("bare has no Pool2d", pooled.Message);
        Assert.Equal(RowResult.Passed, OpTableLedger.Classify(OpTable.Rows["MatMul 7x33x65 nn f32"], "bare", bare).Result);
        // A refusal from a member the backend implements is no excuse, and a wrong answer fails.
        var refusing = new OpRow("MatMul that refuses [3] f32", [In.Of(DType.F32, 3)], _ => throw new TesseraException("the bare backend has no such thing yet"), r => r[0]);
        Assert.Equal(RowResult.Failed, OpTableLedger.Classify(refusing, "bare", bare).Result);
        var wrong = new OpRow("Neg with a wrong reference [7] f32", [In.Of(DType.F32, 7)], t => t[0].Map(UnaryOp.Neg), r => r[0]);
        Assert.Equal(RowResult.Failed, OpTableLedger.Classify(wrong, "cpu-1t", cpu).Result);
    }

    /// <summary>The table of ggml's test-backend-ops: member by backend, supported or not, rows passed / run. It runs
    /// (or reuses) every case, so it also fails when any row fails. See it with
    /// <c>--logger "console;verbosity=detailed"</c>.</summary>
    [Fact]
    public void Summary_of_every_member_on_every_backend()
    {
        output.WriteLine(OpTableLedger.Summary(OpTable.Rows, TestBackends.Names));
        if (TestBackends.Missing is { } missing) output.WriteLine($"not in the table: {missing}");
        var failed = (from row in OpTable.Rows.Values
                      from b in TestBackends.Names
                      let o = OpTableLedger.Outcome(row, b)
                      where o.Result == RowResult.Failed
                      select o.Message).ToArray();
        Assert.True(failed.Length == 0, $"{failed.Length} cases failed; the first: {failed.FirstOrDefault()}");
    }
}
