namespace Tessera.Models;

/// <summary>How <see cref="LlamaLoader"/> opens a model.</summary>
public sealed record LlamaLoadOptions
{
    /// <summary>Positions to build for (null: the model's own context length, at most <see cref="MaxDefaultContext"/>).</summary>
    public int? ContextLength { get; init; }

    /// <summary>The cap on the default context, so that a 128K-context model does not build 128K-row tables unasked.</summary>
    public int MaxDefaultContext { get; init; } = 8192;

    /// <summary>Told while the weight files are read in and the model is built (null: files are mapped and read on demand).</summary>
    public IProgress<LoadProgress>? Progress { get; init; }

    /// <summary>Check before loading that the weights and a KV cache of the whole context fit the memory available, and
    /// refuse, saying how much is needed, when they do not (on the CPU backend only).</summary>
    public bool CheckMemory { get; init; } = true;

    /// <summary>The bytes taken as available (null: measured, see <see cref="LlamaMemoryEstimate.AvailableBytes"/>).</summary>
    public long? AvailableMemoryBytes { get; init; }
}

/// <summary>A loading step: <see cref="Stage"/> "reading" (bytes of weight files read so far of <see cref="Total"/>),
/// "building" (layers made) or "ready".</summary>
public sealed record LoadProgress(string Stage, long Done, long Total);
