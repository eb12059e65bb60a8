using System.Globalization;
using Tessera.Cpu;
using Xunit.Abstractions;

namespace Tessera.Cuda.Tests.Diffusion;

/// <summary>The op audit of the diffusion networks for the CUDA backend, run without a GPU: each workload of
/// <see cref="DiffusionWorkloads"/> runs on the CPU through <see cref="OpRecordingBackend"/>, which lists every IBackend
/// call with the dtypes, layouts and parameters that pick a CUDA kernel (the list is written to the test output: the
/// audit table's rows) and keeps the storages the run made. Each IBackend method the networks call must be implemented
/// by <see cref="CudaBackend"/> itself rather than left to IBackend's default body (which refuses, or for
/// UpsampleNearest leaks a reference to its input), must be within the CUDA kernels' limits (the fused attention's head
/// dim of 256), and must get past the host code CudaBackend runs before a launch (the strided layouts, built here by the
/// same code); no storage may still be referenced when the run is over (on a device, memory never freed). A network
/// that starts calling an op CUDA lacks fails here, on every machine.</summary>
public sealed class DiffusionOpAuditTests(TinyDiffusionCheckpoints files, ITestOutputHelper output) : IClassFixture<TinyDiffusionCheckpoints>
{
    public static TheoryData<string> Workloads => [.. DiffusionWorkloads.All.Keys];

    [Theory]
    [MemberData(nameof(Workloads))]
    public void Every_op_the_network_calls_is_one_cuda_implements(string workload)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        var recorder = new OpRecordingBackend(cpu);
        var run = DiffusionWorkloads.All[workload];
        var recorded = run(recorder, files);
        var plain = run(cpu, files);
        // The recorder forwards and changes nothing; the network's output carries signal.
        Assert.Equal(plain, recorded);
        Assert.All(plain, v => Assert.True(float.IsFinite(v), $"{workload}: a non-finite output"));
        Assert.True(plain.Max(MathF.Abs) > 1e-2f, $"{workload}: the output is too small to compare anything with");
        // Every tensor the run made is gone with the run: on a device, a storage still referenced is memory never freed.
        Assert.True(!recorder.Live.Any(), $"{workload}: {recorder.Live.Count()} storages ({recorder.Live.Sum(st => st.ByteLength)} bytes) still referenced after the run");

        output.WriteLine($"{workload}: {recorder.Calls.Count} distinct calls");
        foreach (var (key, count) in recorder.Calls) output.WriteLine($"{count,6}  {key}");

        var missing = recorder.Methods.Where(m => !CudaImplements(m)).ToList();
        Assert.True(missing.Count == 0, $"{workload} calls {string.Join(", ", missing)}, which CudaBackend leaves to IBackend's default body");
        Assert.True(recorder.CudaRefusals.Count == 0, $"{workload}: CudaBackend would refuse {string.Join("; ", recorder.CudaRefusals)}");
        foreach (var key in recorder.Calls.Keys.Where(k => k.StartsWith("Attention ", StringComparison.Ordinal)))
        {
            int d = int.Parse(key.Split(' ')[2].AsSpan(1), CultureInfo.InvariantCulture);
            Assert.True(d <= 256, $"{workload}: '{key}' has a head dim past the CUDA flash kernel's 256");
        }
    }

    [Fact]
    public void The_audit_sees_a_missing_op()
    {
        // The check above must be able to fail: these IBackend methods have no CUDA body (yet).
        Assert.False(CudaImplements(nameof(IBackend.Pool2d)));
        Assert.False(CudaImplements(nameof(IBackend.ConvTranspose2d)));
        Assert.True(CudaImplements(nameof(IBackend.GroupNorm)));
        Assert.True(CudaImplements(nameof(IBackend.UpsampleNearest)));
    }

    /// <summary>Whether CudaBackend has its own body for an IBackend method.</summary>
    internal static bool CudaImplements(string method)
    {
        var map = typeof(CudaBackend).GetInterfaceMap(typeof(IBackend));
        bool found = false;
        for (int i = 0; i < map.InterfaceMethods.Length; i++)
        {
            if (map.InterfaceMethods[i].Name != method) continue;
            found = true;
            if (map.TargetMethods[i].DeclaringType != typeof(CudaBackend)) return false;
        }
        return found;
    }
}
