using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace Tessera.Kernels.Tests;

/// <summary>Runs [Kernel] methods on ILGPU's CPU accelerator, the way the CUDA backend launches them on a GPU:
/// explicitly grouped, with a grid and group size the test chooses, on a CPUDevice with warp size 32 as on
/// NVIDIA (so warp shuffles and warp-sized reductions behave the same). Compiled at O1 with the Algorithms
/// intrinsics, like the PTX build. Each GPU thread is an OS thread here: keep shapes tiny (64 or less).
///
/// Use: <c>using var h = new CpuKernelHarness();</c> then
/// <c>using var x = h.Upload(data); h.Launch(typeof(MyKernels), "MyKernel", grid: 2, group: 32, x, n, ...);
/// var result = h.Download(x);</c>. Arguments are buffers or views (passed as the kernel's ArrayView&lt;T&gt;), scalars and structs,
/// in the kernel's parameter order. One harness per test class fixture is fine; it is not thread-safe.</summary>
public sealed class CpuKernelHarness : IDisposable
{
    private readonly Context _context;
    private readonly Dictionary<MethodInfo, Kernel> _kernels = [];

    public CpuKernelHarness(int warpSize = 32, int warpsPerGroup = 8, int multiprocessors = 1)
    {
        var device = new CPUDevice(warpSize, warpsPerGroup, multiprocessors);
        _context = Context.Create(b => b.CPU(device).Optimize(OptimizationLevel.O1).EnableAlgorithms());
        Accelerator = device.CreateCPUAccelerator(_context, CPUAcceleratorMode.Parallel);
    }

    public CPUAccelerator Accelerator { get; }

    /// <summary>Largest group (block) the device accepts: warpSize * warpsPerGroup.</summary>
    public int MaxGroupSize => Accelerator.MaxNumThreadsPerGroup;

    public MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] data) where T : unmanaged
    {
        var b = Accelerator.Allocate1D<T>(Math.Max(data.Length, 1));
        if (data.Length > 0) b.View.SubView(0, data.Length).CopyFromCPU(data);
        return b;
    }

    public MemoryBuffer1D<T, Stride1D.Dense> Zeros<T>(long length) where T : unmanaged
    {
        var b = Accelerator.Allocate1D<T>(Math.Max(length, 1));
        b.MemSetToZero();
        return b;
    }

    public T[] Download<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer, long? length = null) where T : unmanaged
    {
        Accelerator.Synchronize();
        var all = buffer.GetAsArray1D();
        return length is { } n ? all[..(int)n] : all;
    }

    /// <summary>Launches a kernel by its family type and method name.</summary>
    public void Launch(Type family, string kernel, int grid, int group, params object[] args) =>
        Launch(family.GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)
            ?? throw new ArgumentException($"{family.Name} has no public static method {kernel}"), grid, group, args);

    /// <summary>Launches an explicitly grouped kernel with grid x group threads (1-D) and waits for it.</summary>
    public void Launch(MethodInfo kernel, int grid, int group, params object[] args)
    {
        if (kernel.GetCustomAttribute<KernelAttribute>() is null)
            throw new ArgumentException($"{kernel.DeclaringType?.Name}.{kernel.Name} has no [Kernel] attribute");
        if (!_kernels.TryGetValue(kernel, out var k))
        {
            _kernels[kernel] = k = Accelerator.LoadKernel(kernel); // explicitly grouped, as the PTX build compiles it
        }
        k.Launch(Accelerator.DefaultStream, new KernelConfig(grid, group), [.. args.Select(AsKernelArgument)]);
        Accelerator.Synchronize();
    }

    /// <summary>Buffers and dense 1-D views become the ArrayView&lt;T&gt; a kernel parameter is declared as (the
    /// launcher takes boxed arguments, so the implicit conversion would not apply).</summary>
    private static object AsKernelArgument(object arg)
    {
        var t = arg.GetType();
        bool dense = t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(MemoryBuffer1D<,>) || t.GetGenericTypeDefinition() == typeof(ArrayView1D<,>));
        return dense ? t.GetMethod("AsContiguous", Type.EmptyTypes)!.Invoke(arg, null)! : arg;
    }

    public void Dispose()
    {
        foreach (var k in _kernels.Values) k.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }
}
