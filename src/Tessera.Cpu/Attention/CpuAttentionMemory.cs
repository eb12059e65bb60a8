namespace Tessera.Cpu.Attention;

/// <summary>The native scratch the CPU attention kernels hold (packed K/V panels and per-thread tiles), for
/// benchmarks that report how memory grows with the sequence length. Process-wide counters.</summary>
public static class CpuAttentionMemory
{
    /// <summary>Bytes held now.</summary>
    public static long CurrentBytes => FlashAttention.CurrentBytes;

    /// <summary>The most bytes held at once since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakBytes => FlashAttention.PeakBytes;

    /// <summary>Starts a new peak measurement from what is held now.</summary>
    public static void ResetPeak() => FlashAttention.ResetPeak();
}
