using Tessera.Formats;
using Tessera.Formats.Onnx;

namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>How one node test came out.</summary>
public enum NodeResult { Passed, Failed, NotMapped }

/// <summary>One node test's result, the operator it counts under, and what went wrong or why it is not mapped.</summary>
public sealed record NodeOutcome(string Name, string Operator, NodeResult Result, string Message);

/// <summary>Runs one ONNX node test on Tessera: reads the graph, maps each node through <see cref="OnnxOpTable"/> in
/// order (a single node, or an expanded function body), and compares every stored output with what Tessera computed:
/// normalised MSE within the mapping's tolerance for float outputs (NaN and infinities where the expected output has
/// them), exact equality for integer and bool outputs.</summary>
public static class NodeRunner
{
    /// <summary>Runs the test directory <paramref name="name"/> under <see cref="NodeTestData.Root"/> with the mappings
    /// of <see cref="OnnxOpTable"/> (or <paramref name="ops"/>, to prove that a wrong mapping is caught); with
    /// <paramref name="doubleAsF32"/>, DOUBLE tensors are narrowed to f32 (<see cref="DoubleData"/>).</summary>
    public static NodeOutcome Run(string name, IBackend backend, IReadOnlyDictionary<string, OnnxOp>? ops = null, bool doubleAsF32 = false)
    {
        ops ??= OnnxOpTable.Ops;
        string dir = Path.Combine(NodeTestData.Root, name);
        string model = Path.Combine(dir, "model.onnx");
        var graph = OnnxGraph.Read(model);
        string op = NodeTestData.Operator(name, graph);
        try
        {
            string message = Execute(dir, graph, NodeTestData.Opset(model), backend, ops, doubleAsF32);
            return new NodeOutcome(name, op, NodeResult.Passed, message);
        }
        catch (NotMappedException e) { return new NodeOutcome(name, op, NodeResult.NotMapped, e.Message); }
        catch (Exception e) // a TesseraException, a mismatch, or a bug in a mapping: all are failures to explain
        {
            return new NodeOutcome(name, op, NodeResult.Failed, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static string Execute(string dir, OnnxGraph graph, int opset, IBackend backend, IReadOnlyDictionary<string, OnnxOp> ops, bool doubleAsF32)
    {
        // Unmapped operators are reported before any data is read: their inputs may be sequences or strings.
        foreach (var n in graph.Nodes)
            if (!ops.ContainsKey(n.OpType))
                throw new NotMappedException(graph.Nodes.Count == 1 ? $"no mapping for {n.OpType}" : $"the graph uses {n.OpType}, which has no mapping");

        using var scope = TensorScope.Begin();
        var data = Path.Combine(dir, "test_data_set_0");
        var values = new Dictionary<string, Tensor>();
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            string file = Path.Combine(data, $"input_{i}.pb");
            if (File.Exists(file)) values[graph.Inputs[i]] = Load(file, backend, doubleAsF32);
        }
        // Constant nodes' tensors (and any initializers), as OnnxFile reads them, under their output names.
        if (graph.Nodes.Any(n => n.OpType == "Constant"))
        {
            using var file = OnnxFile.Open(Path.Combine(dir, "model.onnx"));
            foreach (var t in file.Names)
            {
                try { values[t] = file.Load(t, backend); }
                catch (WeightFormatException e) { throw new NotMappedException($"constant {t}: {e.Message}"); }
            }
        }
        double tolerance = 0;
        foreach (var n in graph.Nodes)
        {
            var inputs = n.Inputs.Select(v => v.Length == 0 ? null
                : values.TryGetValue(v, out var t) ? t : throw new InvalidDataException($"{n.OpType}: input '{v}' has no value")).ToList();
            var ctx = new NodeContext(n, opset, backend, inputs);
            var outs = ops[n.OpType](ctx);
            if (ctx.UnreadAttributes.FirstOrDefault() is { } unread)
                throw new NotMappedException($"{n.OpType} attribute '{unread}' is not mapped");
            for (int k = 0; k < n.Outputs.Count && k < outs.Length; k++)
                if (n.Outputs[k].Length > 0 && outs[k] is { } o) values[n.Outputs[k]] = o;
            tolerance = Math.Max(tolerance, ctx.Tolerance);
        }

        var report = new List<string>();
        for (int i = 0; i < graph.Outputs.Count; i++)
        {
            string file = Path.Combine(data, $"output_{i}.pb");
            if (!File.Exists(file)) continue;
            string name = graph.Outputs[i];
            if (!values.TryGetValue(name, out var got)) throw new InvalidDataException($"output '{name}' was not computed");
            var want = Load(file, backend, doubleAsF32);
            report.Add($"{name} {want.DType.Name()} {want.Shape}: {Compare(name, got, want, tolerance)}");
        }
        if (report.Count == 0) throw new InvalidDataException("no output_N.pb to compare");
        return string.Join("; ", report);
    }

    private static Tensor Load(string file, IBackend backend, bool doubleAsF32)
    {
        try { return doubleAsF32 ? DoubleData.Load(file, backend) : OnnxGraph.LoadTensor(file, backend); }
        catch (WeightFormatException e) { throw new NotMappedException($"{Path.GetFileName(file)}: {e.Message}"); }
    }

    /// <summary>Checks one output; returns the figures on success, throws <see cref="InvalidDataException"/> naming the
    /// output and the difference otherwise.</summary>
    private static string Compare(string name, Tensor got, Tensor want, double tolerance)
    {
        if (!got.Shape.Equals(want.Shape))
            throw new InvalidDataException($"output {name}: shape {got.Shape}, expected {want.Shape}");
        if (want.DType.IsFloat() != got.DType.IsFloat())
            throw new InvalidDataException($"output {name}: dtype {got.DType.Name()}, expected {want.DType.Name()}");
        if (!want.DType.IsFloat())
        {
            long[] g = Longs(got), w = Longs(want);
            int bad = Enumerable.Range(0, w.Length).FirstOrDefault(i => g[i] != w[i], -1);
            if (bad >= 0) throw new InvalidDataException($"output {name}: element {bad} is {g[bad]}, expected {w[bad]} (integer outputs must be exact)");
            return "exact";
        }
        // Half-precision outputs carry their own rounding: at least that much difference is expected.
        double tol = Math.Max(tolerance, want.DType switch { DType.F16 => 1e-5, DType.BF16 => 1e-4, _ => 1e-7 });
        float[] gf = got.ToFloatArray(), wf = want.ToFloatArray();
        double err = 0, norm = 0, max = 0;
        for (int i = 0; i < wf.Length; i++)
        {
            if (float.IsNaN(wf[i]) || float.IsInfinity(wf[i]))
            {
                if (!(gf[i].Equals(wf[i]))) throw new InvalidDataException($"output {name}: element {i} is {gf[i]}, expected {wf[i]}");
                continue;
            }
            double d = (double)gf[i] - wf[i];
            err += d * d;
            norm += (double)wf[i] * wf[i];
            max = Math.Max(max, Math.Abs(d));
        }
        if (double.IsNaN(err)) throw new InvalidDataException($"output {name}: NaN where the expected output is finite");
        // An all-zero expected output has no scale to normalise by: then the largest difference must be tiny.
        bool ok = norm > 0 ? err / norm <= tol : max <= 1e-6;
        string figures = $"nmse {(norm > 0 ? err / norm : 0):E1}, max |diff| {max:E1}";
        if (!ok) throw new InvalidDataException($"output {name}: {figures} (tolerance nmse {tol:E0})");
        return figures;
    }

    private static long[] Longs(Tensor t) => t.DType switch
    {
        DType.I64 => t.ToArray<long>(),
        DType.I32 => [.. t.ToArray<int>().Select(v => (long)v)],
        DType.U8 => [.. t.ToArray<byte>().Select(v => (long)v)],
        DType.I8 => [.. t.ToArray<sbyte>().Select(v => (long)v)],
        _ => throw new InvalidDataException($"cannot compare {t.DType.Name()} values"),
    };
}
