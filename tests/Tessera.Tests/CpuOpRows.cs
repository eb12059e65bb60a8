namespace Tessera.Tests;

/// <summary>A set of op-table rows for ops only the CPU backend has (pooling, transposed conv, upsample): the rows by
/// name, the xunit cases (every row on 1 and 2 threads), and the check of one case through <see cref="OpRunner"/>.</summary>
public sealed class CpuOpRows(Func<IEnumerable<OpRow>> rows)
{
    private static readonly string[] Backends = ["cpu-1t", "cpu-2t"];
    private readonly Lazy<Dictionary<string, OpRow>> _rows = new(() => rows().ToDictionary(r => r.Name));

    /// <summary>(row name, backend name) for every row and CPU backend.</summary>
    public IEnumerable<object[]> Cases() =>
        from row in _rows.Value.Keys
        from backend in Backends
        select new object[] { row, backend };

    /// <summary>Runs one row on one backend against its naive reference.</summary>
    public void Check(string row, string backend)
    {
        string? failure = OpRunner.Execute(_rows.Value[row], backend, TestBackends.Get(backend));
        Assert.True(failure is null, failure);
    }
}
