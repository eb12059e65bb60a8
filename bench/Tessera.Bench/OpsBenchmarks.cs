using BenchmarkDotNet.Attributes;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>The non-GEMM ops of the CPU backend at ViT-B/16 sizes (197 tokens, width 768, MLP 3072, 12 heads).
/// Run: <c>dotnet run -c Release --project bench/Tessera.Bench -- bdn --filter '*OpsBenchmarks*'</c>.</summary>
[MemoryDiagnoser]
public class OpsBenchmarks
{
    private CpuBackend _cpu = null!;
    private Tensor _x = null!, _h = null!, _scores = null!, _gamma = null!, _beta = null!, _cos = null!, _sin = null!, _q = null!;
    private Tensor _img = null!, _patchW = null!, _dwIn = null!, _dwW = null!, _pos = null!;

    [Params(1, 2)] public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new CpuBackend(new CpuBackendOptions(Threads));
        var rng = new Random(1);
        Tensor R(params int[] dims)
        {
            var s = new Shape(dims);
            var a = new float[s.ElementCount];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
            return Tensor.FromArray(_cpu, a, dims);
        }
        _x = R(197, 768); _h = R(197, 3072); _scores = R(12, 197, 197); _gamma = R(768); _beta = R(768);
        _q = R(12, 197, 64);
        var (c, s) = RopeTables.Build1D(197, 64);
        _cos = Tensor.FromArray(_cpu, c, 197, 32); _sin = Tensor.FromArray(_cpu, s, 197, 32);
        _img = R(1, 3, 224, 224); _patchW = R(768, 3, 16, 16);
        _dwIn = R(1, 64, 112, 112); _dwW = R(64, 1, 3, 3);
        _pos = R(1, 768, 14, 14);
    }

    [Benchmark] public void Gelu197x3072() => _h.Gelu().Dispose();
    [Benchmark] public void Add197x768() => (_x + _x).Dispose();
    [Benchmark] public void LayerNorm197x768() => _x.LayerNorm(_gamma, _beta).Dispose();
    [Benchmark] public void RmsNorm197x768() => _x.RmsNorm(_gamma).Dispose();
    [Benchmark] public void Softmax12x197x197() => _scores.Softmax(null, 0.125f).Dispose();
    [Benchmark] public void Rope12x197x64() => _q.Rope(_cos, _sin).Dispose();
    [Benchmark] public void SumLastAxis197x3072() => _h.Sum(-1).Dispose();
    [Benchmark] public void PatchEmbed224() => _img.PatchEmbed(_patchW).Dispose();
    [Benchmark] public void Depthwise3x3_64x112() => _dwIn.Conv2d(_dwW, null, Conv2dParams.Square(1, 1, 1, 64)).Dispose();
    [Benchmark] public void BicubicPosEmbed14To24() => _pos.InterpolateBicubic(24, 24).Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _h, _scores, _gamma, _beta, _cos, _sin, _q, _img, _patchW, _dwIn, _dwW, _pos }) t.Dispose();
        _cpu.Dispose();
    }
}
