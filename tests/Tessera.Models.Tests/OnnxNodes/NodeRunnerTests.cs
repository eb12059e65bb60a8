using Tessera.Cpu;

namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>The node-test runner itself can fail: a wrong mapping is reported as a failure (float and integer outputs
/// alike), and an attribute a mapping ignores makes the case "not mapped" instead of a silent pass.</summary>
public class NodeRunnerTests
{
    private static readonly CpuBackend Cpu = new(new CpuBackendOptions(Threads: 1));

    private static NodeOutcome RunWith(string test, string op, OnnxOp mapping)
    {
        var ops = new Dictionary<string, OnnxOp>(OnnxOpTable.Ops) { [op] = mapping };
        return NodeRunner.Run(test, Cpu, ops);
    }

    [SkippableTheory]
    [InlineData("test_relu", "Relu")]
    [InlineData("test_softmax_axis_0", "Softmax")]
    [InlineData("test_argmax_keepdims_random", "ArgMax")]
    [InlineData("test_transpose_all_permutations_3", "Transpose")]
    public void A_wrong_mapping_fails(string test, string op)
    {
        Skip.If(NodeTestData.Missing is not null, NodeTestData.Missing);
        Assert.Equal(NodeResult.Passed, NodeRunner.Run(test, Cpu).Result);
        OnnxOp wrong = op switch
        {
            "Relu" => c => [c.In(0).Map(UnaryOp.Sigmoid)],
            "Softmax" => c => { c.Int("axis", -1); return [c.In(0).Softmax()]; },   // the last axis, not axis 0
            "ArgMax" => c => [c.In(0).Map(UnaryOp.Neg).ArgMax((int)c.Int("axis", 0), c.Int("keepdims", 1) != 0)],
            _ => c => { c.Ints("perm"); return [c.In(0).Contiguous()]; },   // same elements, wrong shape
        };
        var o = RunWith(test, op, wrong);
        Assert.True(o.Result == NodeResult.Failed, $"{test} with a wrong {op}: {o.Result} {o.Message}");
    }

    [SkippableFact]
    public void An_ignored_attribute_is_not_mapped()
    {
        Skip.If(NodeTestData.Missing is not null, NodeTestData.Missing);
        var o = RunWith("test_leakyrelu", "LeakyRelu", c => [c.In(0).Map(UnaryOp.Relu)]);
        Assert.Equal(NodeResult.NotMapped, o.Result);
        Assert.Contains("alpha", o.Message);
    }
}
