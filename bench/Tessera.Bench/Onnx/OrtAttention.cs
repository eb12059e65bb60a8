using Microsoft.ML.OnnxRuntime;

namespace Tessera.Bench.Onnx;

/// <summary>ONNX Runtime's com.microsoft MultiHeadAttention on query, key, value [B, S, H*D], IntraOpNumThreads =
/// threads, one inter-op thread, sequential execution, inputs and output pre-bound.</summary>
public sealed class OrtAttention : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtValue _q, _k, _v, _y;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _run = new();

    public OrtAttention(int b, int s, int h, int d, bool causal, float[] q, float[] k, float[] v, int threads)
    {
        using var opts = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(OnnxModelBuilder.MultiHeadAttention(b, s, h, d, causal), opts);
        long[] dims = [b, s, h * d];
        _q = OrtValue.CreateTensorValueFromMemory(q, dims);
        _k = OrtValue.CreateTensorValueFromMemory(k, dims);
        _v = OrtValue.CreateTensorValueFromMemory(v, dims);
        Y = new float[q.Length];
        _y = OrtValue.CreateTensorValueFromMemory(Y, dims);
        _binding = _session.CreateIoBinding();
        _binding.BindInput("query", _q);
        _binding.BindInput("key", _k);
        _binding.BindInput("value", _v);
        _binding.BindOutput("Y", _y);
    }

    /// <summary>The output [B, S, H*D], written by each <see cref="Run"/>.</summary>
    public float[] Y { get; }

    public void Run() => _session.RunWithBinding(_run, _binding);

    public void Dispose()
    {
        _binding.Dispose(); _q.Dispose(); _k.Dispose(); _v.Dispose(); _y.Dispose(); _run.Dispose(); _session.Dispose();
    }
}
