namespace Tessera.Attention;

/// <summary>The paged KV cache has fewer free blocks than an operation needs. Recoverable: the operation changed
/// nothing (no block was taken, no table or length moved), so the caller can free or preempt sequences and retry.</summary>
public sealed class KvCacheFullException : TesseraException
{
    /// <summary>Creates the exception.</summary>
    public KvCacheFullException(int needed, int free, int total)
        : base($"the KV cache is full: {needed} blocks needed, {free} free of {total}; free or preempt a sequence and retry")
    {
        Needed = needed;
        Free = free;
    }

    /// <summary>Blocks the operation needed.</summary>
    public int Needed { get; }

    /// <summary>Blocks that were free.</summary>
    public int Free { get; }
}
