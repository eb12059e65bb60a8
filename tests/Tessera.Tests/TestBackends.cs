using Tessera.Cpu;
using Tessera.Cuda;

namespace Tessera.Tests;

/// <summary>Every backend the op table runs on: the CPU always, and CUDA device 0 where a driver and a device
/// exist (on a machine without them the table simply has no "cuda" column; tests/Tessera.Cuda.Tests says why).</summary>
public static class TestBackends
{
    private static readonly Lazy<Dictionary<string, IBackend>> s_all = new(() =>
    {
        var all = new Dictionary<string, IBackend>
        {
            // One thread: the plain kernels. Two threads: the work split (rows or tiles over workers).
            ["cpu-1t"] = new CpuBackend(new CpuBackendOptions(Threads: 1)),
            ["cpu-2t"] = new CpuBackend(new CpuBackendOptions(Threads: 2)),
        };
        if (CudaBackend.TryCreate(0, out var cuda, out var why)) all["cuda"] = cuda;
        else s_missing = $"cuda: {why}";
        return all;
    });

    private static string? s_missing;

    /// <summary>Why a backend has no column here ("cuda: no driver ..."), or null when every backend is present.</summary>
    public static string? Missing
    {
        get
        {
            _ = s_all.Value;
            return s_missing;
        }
    }

    public static IReadOnlyCollection<string> Names => s_all.Value.Keys;

    public static IBackend Get(string name) => s_all.Value[name];
}
