using Tessera.Cpu;
using Tessera.Tests.Reference;

namespace Tessera.Cuda.Tests;

/// <summary>What the CUDA op tests share: the device (or the reason there is none, which skips each test), a CPU
/// backend to compare with, seeded values, and the one NMSE rule of the test suites.</summary>
public abstract class CudaOpTestBase : IDisposable
{
    private readonly CudaBackend? _gpu;
    private readonly string _why = "";
    protected readonly CpuBackend _cpu = new();

    protected CudaOpTestBase() => CudaBackend.TryCreate(0, out _gpu, out _why);

    public void Dispose()
    {
        _gpu?.Dispose();
        GC.SuppressFinalize(this);
    }

    protected CudaBackend Gpu
    {
        get
        {
            Skip.If(_gpu is null, $"no CUDA: {_why}");
            return _gpu!;
        }
    }

    protected static float[] Values(int n, int seed, float lo = -3f, float hi = 3f)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(lo + (hi - lo) * r.NextDouble()))];
    }

    protected static void AssertClose(float[] want, float[] got, double nmse = Nmse.F32Bound) => Nmse.Below(want, got, nmse, "cuda against cpu");

    protected (Tensor Cpu, Tensor Gpu) Pair(float[] data, params int[] shape) =>
        (Tensor.FromArray(_cpu, data, shape), Tensor.FromArray(Gpu, data, shape));
}

/// <summary>A host struct that mirrors a kernel's argument struct must have the same size and the same fields at the
/// same offsets, or the kernel reads garbage.</summary>
internal static class KernelMirror
{
    public static void AssertSameLayout<TKernel, THost>()
    {
        var k = typeof(TKernel).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
        var h = typeof(THost).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public);
        Assert.Equal(System.Runtime.InteropServices.Marshal.SizeOf<TKernel>(), System.Runtime.InteropServices.Marshal.SizeOf<THost>());
        Assert.Equal(k.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<TKernel>(f.Name))),
            h.Select(f => (f.Name, f.FieldType, (int)System.Runtime.InteropServices.Marshal.OffsetOf<THost>(f.Name))));
    }
}
