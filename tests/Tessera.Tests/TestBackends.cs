using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>Every backend the op table runs on. A new backend (CUDA) is one more entry here, created only
/// when its device is present, and every table row then runs on it too.</summary>
public static class TestBackends
{
    private static readonly Lazy<Dictionary<string, IBackend>> s_all = new(() => new()
    {
        // One thread: the plain kernels. Two threads: the work split (rows or tiles over workers).
        ["cpu-1t"] = new CpuBackend(new CpuBackendOptions(Threads: 1)),
        ["cpu-2t"] = new CpuBackend(new CpuBackendOptions(Threads: 2)),
    });

    public static IReadOnlyCollection<string> Names => s_all.Value.Keys;

    public static IBackend Get(string name) => s_all.Value[name];
}
