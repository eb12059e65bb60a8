using Tessera.Cpu;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>ONNX's own node tests (Debian's libonnx-testdata) against Tessera's op surface on the CPU backend: one case
/// per test directory. A case passes when every stored output matches; one whose operator, attribute or dtype Tessera
/// does not offer is skipped as "not mapped: why"; one that fails is either a bug or listed, with its reason, in
/// <see cref="KnownFailures"/>. <see cref="Counts_per_operator"/> prints passed / failed / not mapped per operator.</summary>
public class OnnxNodeTests(ITestOutputHelper output)
{
    private static readonly CpuBackend Cpu = new(new CpuBackendOptions(Threads: 1));

    /// <summary>Every node test directory, or one placeholder that skips with what to install.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (NodeTestData.Missing is not null) data.Add("(libonnx-testdata missing)");
        foreach (var name in NodeTestData.Names) data.Add(name);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Node(string test)
    {
        Skip.If(NodeTestData.Missing is not null, NodeTestData.Missing);
        var o = NodeRunner.Run(test, Cpu);
        output.WriteLine($"{o.Operator}: {o.Result}: {o.Message}");
        bool known = KnownFailures.Reasons.TryGetValue(test, out var reason);
        switch (o.Result)
        {
            case NodeResult.NotMapped:
                Skip.If(true, $"not mapped: {o.Message}");
                break;
            case NodeResult.Failed:
                Skip.If(known, $"known failure: {reason} ({o.Message})");
                Assert.Fail($"{test} ({o.Operator}): {o.Message}");
                break;
            case NodeResult.Passed:
                Assert.False(known, $"{test} is listed as a known failure ({reason}) but passes now: take it off KnownFailures");
                break;
        }
    }

    /// <summary>The cases with DOUBLE data (not mapped above), but for the casts, whose point is the dtype.</summary>
    public static TheoryData<string> DoubleCases()
    {
        var data = new TheoryData<string>();
        if (NodeTestData.Missing is not null) data.Add("(libonnx-testdata missing)");
        foreach (var name in NodeTestData.Names.Where(n => !n.StartsWith("test_cast", StringComparison.Ordinal) && DoubleData.Uses(n))) data.Add(name);
        return data;
    }

    /// <summary>A DOUBLE case with its data narrowed to f32, compared with the f64 expected outputs (see <see cref="DoubleData"/>).</summary>
    [SkippableTheory]
    [MemberData(nameof(DoubleCases))]
    public void Double_node_in_f32(string test)
    {
        Skip.If(NodeTestData.Missing is not null, NodeTestData.Missing);
        var o = NodeRunner.Run(test, Cpu, doubleAsF32: true);
        output.WriteLine($"{o.Operator}: {o.Result}: {o.Message}");
        bool known = KnownFailures.Reasons.TryGetValue(test + " (f32)", out var reason);
        Skip.If(o.Result == NodeResult.NotMapped, $"not mapped: {o.Message}");
        Skip.If(o.Result == NodeResult.Failed && known, $"known failure: {reason} ({o.Message})");
        Assert.True(o.Result == NodeResult.Passed, $"{test} ({o.Operator}) in f32: {o.Message}");
        Assert.False(known, $"{test} (f32) is listed as a known failure ({reason}) but passes now: take it off KnownFailures");
    }

    /// <summary>Runs every case again and prints, per operator, how many passed, failed and are not mapped, with each
    /// not-mapped reason; fails on an unexplained failure or a stale known-failure entry.</summary>
    [SkippableFact]
    public void Counts_per_operator()
    {
        Skip.If(NodeTestData.Missing is not null, NodeTestData.Missing);
        var outcomes = NodeTestData.Names.Select(n => NodeRunner.Run(n, Cpu)).ToList();
        output.WriteLine($"{"operator",-34} passed failed not-mapped");
        foreach (var g in outcomes.GroupBy(o => o.Operator).OrderBy(g => g.Key, StringComparer.Ordinal))
            output.WriteLine($"{g.Key,-34} {g.Count(o => o.Result == NodeResult.Passed),6} {g.Count(o => o.Result == NodeResult.Failed),6} {g.Count(o => o.Result == NodeResult.NotMapped),10}");
        int passed = outcomes.Count(o => o.Result == NodeResult.Passed), failed = outcomes.Count(o => o.Result == NodeResult.Failed);
        output.WriteLine($"{"total",-34} {passed,6} {failed,6} {outcomes.Count - passed - failed,10}  ({outcomes.Count} node tests)");
        output.WriteLine("");
        foreach (var o in outcomes.Where(o => o.Result != NodeResult.Passed))
            output.WriteLine($"{o.Name}: {(o.Result == NodeResult.Failed ? "FAILED" : "not mapped")}: {o.Message}");

        var doubles = NodeTestData.Names.Where(n => !n.StartsWith("test_cast", StringComparison.Ordinal) && DoubleData.Uses(n))
            .Select(n => NodeRunner.Run(n, Cpu, doubleAsF32: true) with { Name = n + " (f32)" }).ToList();
        output.WriteLine("");
        output.WriteLine($"DOUBLE cases narrowed to f32: {doubles.Count(o => o.Result == NodeResult.Passed)} passed, " +
            $"{doubles.Count(o => o.Result == NodeResult.Failed)} failed, {doubles.Count(o => o.Result == NodeResult.NotMapped)} not mapped " +
            $"({string.Join(", ", doubles.Where(o => o.Result == NodeResult.Passed).GroupBy(o => o.Operator).Select(g => $"{g.Key} {g.Count()}"))})");
        outcomes.AddRange(doubles);

        var unexplained = outcomes.Where(o => o.Result == NodeResult.Failed && !KnownFailures.Reasons.ContainsKey(o.Name)).ToList();
        Assert.True(unexplained.Count == 0, "unexplained failures: " + string.Join("; ", unexplained.Select(o => $"{o.Name}: {o.Message}")));
        var stale = KnownFailures.Reasons.Keys.Where(k => outcomes.All(o => o.Name != k || o.Result != NodeResult.Failed)).ToList();
        Assert.True(stale.Count == 0, "known failures that no longer fail (or no longer exist): " + string.Join(", ", stale));
    }
}
