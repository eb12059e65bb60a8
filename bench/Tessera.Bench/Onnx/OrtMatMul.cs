using Microsoft.ML.OnnxRuntime;

namespace Tessera.Bench.Onnx;

/// <summary>ONNX Runtime's MatMul with B as a constant initializer (so MLAS pre-packs it, as in a real model),
/// IntraOpNumThreads = threads, one inter-op thread, sequential execution, inputs and outputs pre-bound.</summary>
public sealed class OrtMatMul : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtValue _a, _y;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _run = new();

    public OrtMatMul(int m, int k, int n, float[] a, float[] b, int threads)
    {
        using var opts = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(OnnxModelBuilder.MatMul(m, k, n, b), opts);
        _a = OrtValue.CreateTensorValueFromMemory(a, [m, k]);
        Y = new float[(long)m * n];
        _y = OrtValue.CreateTensorValueFromMemory(Y, [m, n]);
        _binding = _session.CreateIoBinding();
        _binding.BindInput("A", _a);
        _binding.BindOutput("Y", _y);
    }

    /// <summary>The output, written by each <see cref="Run"/>.</summary>
    public float[] Y { get; }

    public void Run() => _session.RunWithBinding(_run, _binding);

    public void Dispose()
    {
        _binding.Dispose(); _a.Dispose(); _y.Dispose(); _run.Dispose(); _session.Dispose();
    }
}
