using Tessera.Cpu;
using Tessera.Formats.Onnx;

namespace Tessera.Models.Tests;

/// <summary>Tessera's LSTM against the ONNX project's own node tests for the LSTM operator, as Debian ships them in
/// libonnx-testdata: each test directory holds model.onnx (one LSTM node with its attributes) and
/// test_data_set_0/input_N.pb, output_N.pb (serialized TensorProtos, numbered as the graph's inputs and outputs).
/// The node's attributes become <see cref="LstmOptions"/>, its inputs Tessera tensors; every output the test stores is
/// compared within the f32 tolerance (normalised MSE 1e-7). CI installs the package (.ci/run); a missing directory fails
/// with what to install, never silently passes.</summary>
public class OnnxLstmNodeTests
{
    private const string Root = "/usr/share/libonnx-testdata/data/node";

    [Theory]
    [InlineData("test_lstm_defaults")]
    [InlineData("test_lstm_batchwise")]
    [InlineData("test_lstm_with_initial_bias")]
    [InlineData("test_lstm_with_peepholes")]
    public void Lstm_matches_the_onnx_node_test(string test)
    {
        string dir = Path.Combine(Root, test);
        Assert.True(Directory.Exists(dir), $"{dir} is missing: install Debian's libonnx-testdata (apt-get install libonnx-testdata), as .ci/run does");
        var be = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var graph = OnnxGraph.Read(Path.Combine(dir, "model.onnx"));
        var node = Assert.Single(graph.Nodes);
        Assert.Equal("LSTM", node.OpType);

        using var scope = TensorScope.Begin();
        var values = new Dictionary<string, Tensor>();
        for (int i = 0; i < graph.Inputs.Count; i++)
            values[graph.Inputs[i]] = OnnxGraph.LoadTensor(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb"), be);
        Tensor? In(int k) => k < node.Inputs.Count && node.Inputs[k].Length > 0 ? values[node.Inputs[k]] : null;

        var a = node.Attributes;
        if (a.TryGetValue("activations", out var acts))
            Assert.Equal(["Sigmoid", "Tanh", "Tanh"], acts.Strings.Take(3)); // Tessera runs the default activations
        var options = new LstmOptions
        {
            Direction = a.TryGetValue("direction", out var d) ? d.String switch
            {
                "forward" => LstmDirection.Forward,
                "reverse" => LstmDirection.Reverse,
                "bidirectional" => LstmDirection.Bidirectional,
                _ => throw new InvalidDataException($"{test}: direction '{d.String}'"),
            } : LstmDirection.Forward,
            BatchFirst = a.TryGetValue("layout", out var l) && l.Int == 1,
            Clip = a.TryGetValue("clip", out var c) ? c.Float : null,
            InputForget = a.TryGetValue("input_forget", out var f) && f.Int == 1,
        };
        var x = In(0)!;
        var result = x.Lstm(In(1)!, In(2)!, In(3), options, In(5), In(6), In(7), In(4));
        Assert.Equal(a["hidden_size"].Int, result.Yh.Shape[-1]);

        Tensor[] outs = [result.Y, result.Yh, result.Yc];
        int compared = 0;
        for (int i = 0; i < graph.Outputs.Count; i++)
        {
            string file = Path.Combine(dir, "test_data_set_0", $"output_{i}.pb");
            if (!File.Exists(file)) continue;
            int k = node.Outputs.ToList().IndexOf(graph.Outputs[i]);
            Assert.True(k >= 0, $"{test}: graph output '{graph.Outputs[i]}' is not an output of the LSTM node");
            var want = OnnxGraph.LoadTensor(file, be);
            Assert.Equal(want.Shape, outs[k].Shape);
            var (nmse, max) = OrtOracle.Compare(outs[k].ToFloatArray(), want.ToFloatArray());
            Assert.True(nmse < 1e-7, $"{test} output {graph.Outputs[i]}: normalised MSE {nmse:E2}, max |diff| {max:E2}");
            compared++;
        }
        Assert.True(compared > 0, $"{test}: no output_N.pb to compare");
    }
}
