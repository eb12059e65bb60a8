using BenchmarkDotNet.Attributes;
using Tessera.Bench.Onnx;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>BenchmarkDotNet suite: f32 GEMM through the Tensor API against ONNX Runtime (B a constant initializer),
/// on the transformer shapes of the peer table. Run: `bdn --filter *Gemm*`.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private Tensor _a = null!, _b = null!, _w = null!;
    private OrtMatMul _ort = null!;

    /// <summary>M x K x N.</summary>
    [Params("197x768x3072", "197x3072x768", "1024x1024x1024", "1x768x32000")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var d = Shape.Split('x').Select(int.Parse).ToArray();
        int m = d[0], k = d[1], n = d[2];
        var rng = new Random(1);
        var a = new float[m * k];
        var b = new float[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        var cpu = new CpuBackend(new CpuBackendOptions(Threads));
        _a = Tensor.FromArray(cpu, a, m, k);
        _b = Tensor.FromArray(cpu, b, k, n);
        _ort = new OrtMatMul(m, k, n, a, b, Threads);
        var wt = new float[n * k];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) wt[j * k + p] = b[p * n + j];
        using var w = Tensor.FromArray(cpu, wt, n, k);
        _w = w.AsConstant();
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run();

    [Benchmark]
    public void Tessera()
    {
        using var y = _a.MatMul(_b);
    }

    /// <summary>As a linear layer: W = B^T stored [N, K] and constant, as a model's weights are.</summary>
    [Benchmark]
    public void TesseraLinear()
    {
        using var y = _a.Linear(_w);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose(); _b.Dispose(); _w.Dispose(); _ort.Dispose();
    }
}
