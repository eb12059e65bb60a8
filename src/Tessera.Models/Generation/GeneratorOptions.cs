namespace Tessera.Models.Generation;

/// <summary>How a <see cref="Generator"/> batches and keeps keys and values.</summary>
public sealed record GeneratorOptions
{
    /// <summary>Most requests decoded together in one forward; more wait their turn.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Positions in one KV block (the unit of sharing and of allocation).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Positions the KV pool holds over all requests (rounded up to whole blocks); null: room for
    /// <see cref="MaxBatch"/> requests of 512 positions or one of the whole context, whichever is more (each position
    /// costs layers x 2 x kv heads x head dim x 4 bytes).</summary>
    public int? KvCacheTokens { get; init; }

    /// <summary>Reuse the KV blocks of earlier or running requests whose prompts start with the same whole blocks.</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>Throws naming the bad value.</summary>
    public void Validate()
    {
        if (MaxBatch <= 0) throw new TesseraException($"generator: the batch size must be positive, got {MaxBatch}");
        if (BlockSize <= 0) throw new TesseraException($"generator: the block size must be positive, got {BlockSize}");
        if (KvCacheTokens is <= 0) throw new TesseraException($"generator: the KV cache must hold some positions, got {KvCacheTokens}");
    }
}
