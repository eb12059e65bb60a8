using System.Runtime.InteropServices;
using Tessera.Cpu;
using Tessera.Tests.Reference;

namespace Tessera.Cuda.Tests;

/// <summary>The CUDA LSTM (projection GEMM, per-step batched GEMM and LstmKernels.Step) against the CPU backend, where
/// a driver and a device exist; elsewhere each test is reported as skipped with the reason. The CPU path is itself
/// checked against the double reference (tests/Tessera.Tests/LstmTests.cs) and the ONNX node tests.</summary>
public sealed class CudaLstmTests : IDisposable
{
    private readonly CudaBackend? _gpu;
    private readonly string _why = "";
    private readonly CpuBackend _cpu = new();

    public CudaLstmTests() => CudaBackend.TryCreate(0, out _gpu, out _why);

    public void Dispose() => _gpu?.Dispose();

    private static float[] Values(int n, int seed, float scale)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale))];
    }

    private static void AssertClose(string what, float[] want, float[] got, double nmse = Nmse.F32Bound) => Nmse.Below(want, got, nmse, what);

    [Fact]
    public void Host_mirror_of_the_step_arguments_matches_the_kernel()
    {
        var k = typeof(Tessera.Kernels.LstmStepArgs).GetFields();
        var h = typeof(LstmStepArgsArg).GetFields();
        Assert.Equal(Marshal.SizeOf<Tessera.Kernels.LstmStepArgs>(), Marshal.SizeOf<LstmStepArgsArg>());
        Assert.Equal(k.Select(f => (f.Name, f.FieldType, (int)Marshal.OffsetOf<Tessera.Kernels.LstmStepArgs>(f.Name))),
            h.Select(f => (f.Name, f.FieldType, (int)Marshal.OffsetOf<LstmStepArgsArg>(f.Name))));
    }

    [SkippableTheory]
    [InlineData(LstmDirection.Forward, false, false)]
    [InlineData(LstmDirection.Reverse, true, false)]
    [InlineData(LstmDirection.Bidirectional, true, true)]
    [InlineData(LstmDirection.Bidirectional, false, true)]
    public void Lstm_matches_cpu(LstmDirection dir, bool extras, bool batchFirst)
    {
        Skip.If(_gpu is null, $"no CUDA: {_why}");
        const int S = 7, B = 3, I = 13, H = 11;
        int d = dir == LstmDirection.Bidirectional ? 2 : 1;
        var opts = new LstmOptions { Direction = dir, BatchFirst = batchFirst, Clip = extras ? 0.8f : null, InputForget = false };
        float[] x = Values(S * B * I, 1, 1), w = Values(d * 4 * H * I, 2, 0.45f), r = Values(d * 4 * H * H, 3, 0.45f);
        float[] b = Values(d * 8 * H, 4, 0.5f), h0 = Values(d * B * H, 5, 0.8f), c0 = Values(d * B * H, 6, 1.5f), p = Values(d * 3 * H, 7, 0.7f);
        int[] lens = [S, 0, 4];
        int[] xDims = batchFirst ? [B, S, I] : [S, B, I], sDims = batchFirst ? [B, d, H] : [d, B, H];
        LstmResult Run(IBackend be)
        {
            Tensor T(float[] v, params int[] dims) => Tensor.FromArray(be, v, dims);
            return T(x, xDims).Lstm(T(w, d, 4 * H, I), T(r, d, 4 * H, H), T(b, d, 8 * H), opts,
                extras ? T(h0, sDims) : null, extras ? T(c0, sDims) : null, extras ? T(p, d, 3 * H) : null,
                extras ? Tensor.FromArray(be, lens, B) : null);
        }
        using var scope = TensorScope.Begin();
        var want = Run(_cpu);
        var got = Run(_gpu!);
        AssertClose("Y", want.Y.ToFloatArray(), got.Y.ToFloatArray());
        AssertClose("Y_h", want.Yh.ToFloatArray(), got.Yh.ToFloatArray());
        AssertClose("Y_c", want.Yc.ToFloatArray(), got.Yc.ToFloatArray());
    }
}
