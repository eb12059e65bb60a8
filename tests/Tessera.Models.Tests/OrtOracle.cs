using Microsoft.ML.OnnxRuntime;

namespace Tessera.Models.Tests;

/// <summary>ONNX Runtime on one .onnx file, as the oracle the models are compared against, and the comparison
/// figures: normalised MSE (mse(ours, ort) / mse(ort, 0)) and the largest absolute difference.</summary>
public sealed class OrtOracle : IDisposable
{
    private readonly InferenceSession _session;

    public OrtOracle(string path)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(path, opts);
    }

    /// <summary>The first output and its shape for input "x".</summary>
    public (float[] Data, int[] Dims) Run(float[] input, int[] dims)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(input, dims.Select(d => (long)d).ToArray());
        using var outs = _session.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["x"] = x }, _session.OutputNames);
        var o = outs[0];
        return (o.GetTensorDataAsSpan<float>().ToArray(), o.GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray());
    }

    public static (double Nmse, double MaxAbs) Compare(float[] ours, float[] ort)
    {
        Assert.Equal(ort.Length, ours.Length);
        double max = 0;
        for (int i = 0; i < ort.Length; i++) max = Math.Max(max, Math.Abs(ours[i] - (double)ort[i]));
        return (Tessera.Tests.Reference.Nmse.Of(ort, ours), max);
    }

    public void Dispose() => _session.Dispose();
}
