namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>Runs one ONNX node on Tessera: returns the node's outputs in order (null for one not computed), throws
/// <see cref="NotMappedException"/> for what Tessera's op surface lacks.</summary>
public delegate Tensor?[] OnnxOp(NodeContext c);

/// <summary>Every ONNX operator the node tests map onto Tessera's public Tensor API, by operator name; one file per
/// family registers its operators.</summary>
public static class OnnxOpTable
{
    /// <summary>The mappings by ONNX operator name.</summary>
    public static IReadOnlyDictionary<string, OnnxOp> Ops { get; } = Build();

    private static Dictionary<string, OnnxOp> Build()
    {
        var ops = new Dictionary<string, OnnxOp>();
        ElementwiseOps.Register(ops);
        MatrixOps.Register(ops);
        NormOps.Register(ops);
        ReduceOps.Register(ops);
        ConvPoolOps.Register(ops);
        ShapeOps.Register(ops);
        ResizeOp.Register(ops);
        ConstantOps.Register(ops);
        LogicOps.Register(ops);   // after ElementwiseOps: wraps its Max, Min and Clip for integer inputs
        IndexOps.Register(ops);
        PadOp.Register(ops);
        return ops;
    }
}
