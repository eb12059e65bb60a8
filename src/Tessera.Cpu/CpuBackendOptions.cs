namespace Tessera.Cpu;

/// <summary>Options of the CPU backend.</summary>
/// <param name="Threads">Worker threads for one op; defaults to the processor count.</param>
public sealed record CpuBackendOptions(int Threads = 0)
{
    /// <summary>The thread count actually used (the processor count when <see cref="Threads"/> is 0 or less).</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;
}
