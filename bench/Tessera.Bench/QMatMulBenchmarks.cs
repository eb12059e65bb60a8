using BenchmarkDotNet.Attributes;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>Quantized linear layers on the CPU backend at the shapes: int8 GEMM at ViT-B/16's MLP
/// (197x768x3072), and decode GEMVs (1x4096x4096, 1x768x32000) and a prefill (128x768x2048) for the GGUF block formats;
/// <see cref="Constant"/> false keeps a Q8_0/Q4_0 weight read in place instead of on its 16-row panels. Run with
/// `bdn --filter *QMatMul*`; the peer comparison with ONNX Runtime is `peer qmatmul`.</summary>
[MemoryDiagnoser]
public class QMatMulBenchmarks
{
    [Params("int8:197x768x3072", "q8_0:1x4096x4096", "q4_0:1x4096x4096", "q4_0:1x768x32000", "q4_k:1x4096x4096", "q4_0:197x768x3072", "q8_0:128x768x2048")]
    public string Case { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Whether the weight is declared constant (Q8_0/Q4_0: repacked into 16-row panels on first use).</summary>
    [Params(true, false)]
    public bool Constant { get; set; }

    private Tensor _x = null!, _w = null!;
    private Tensor? _scales;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Case.Split(':');
        var dims = parts[1].Split('x').Select(int.Parse).ToArray();
        int m = dims[0], k = dims[1], n = dims[2];
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: Threads));
        var rng = new Random(1);
        _x = Tensor.FromArray(cpu, PeerQMatMul.Rand(rng, m * k, 1f), m, k);
        if (parts[0] == "int8")
        {
            var (q, s) = PeerQMatMul.QuantizeRows(PeerQMatMul.Rand(rng, n * k, 1f), n, k);
            using var raw = Tensor.FromArray(cpu, q, n, k);
            _w = raw.AsConstant();
            _scales = Tensor.FromArray(cpu, s, n);
        }
        else
        {
            var dt = DTypeInfo.Parse(parts[0]);
            using var raw = Tensor.FromArray(cpu, PeerQMatMul.RandomBlocks(rng, dt, (long)n * k), (int)dt.ByteCount((long)n * k));
            using var typed = Tensor.FromStorage(raw.Storage, dt, new Shape(n, k));
            _w = Constant ? typed.AsConstant() : typed.Share();
        }
    }

    [Benchmark]
    public void Linear()
    {
        using var y = _x.Linear(_w, null, _scales);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose(); _w.Dispose(); _scales?.Dispose();
    }
}
