using System.Globalization;
using Tessera.Formats;
using Tessera.Formats.Configs;

namespace Tessera.Models;

/// <summary>What a decoder needs in memory, known before anything large is allocated: its weights (the files' tensor
/// bytes, mapped and read in place, f16/bf16 ones included; 1-D tensors also as the f32 copies the layers load; a
/// block-quantized or f16/bf16 token embedding also held as f32 for the lookup) plus an f32 KV cache for the whole
/// context.</summary>
public sealed record LlamaMemoryEstimate(long WeightBytes, long EmbeddingCopyBytes, long KvCacheBytes, int Context)
{
    /// <summary>Everything together.</summary>
    public long TotalBytes => WeightBytes + EmbeddingCopyBytes + KvCacheBytes;

    /// <summary>The estimate for <paramref name="config"/> with weights in <paramref name="weights"/> and a context of
    /// <paramref name="context"/> positions. <paramref name="embeddingName"/> is the embedding's stored name.</summary>
    public static LlamaMemoryEstimate Of(IWeightSource weights, LlamaConfig config, int context, string embeddingName)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(config);
        long w = 0;
        foreach (var n in weights.Names)
        {
            var info = weights.Info(n);
            // Every tensor is read in place from the mapping; the norms and biases (1-D) get f32 copies besides.
            w += info.ByteLength + (info.Dims.Count == 1 && info.DType != DType.F32 ? 4 * info.ElementCount : 0);
        }
        long embed = weights.Contains(embeddingName) && weights.Info(embeddingName).DType is { } dt && (dt.IsBlock() || dt is DType.F16 or DType.BF16)
            ? 4L * config.VocabSize * config.HiddenSize : 0;
        long kv = 2L * 4 * config.NumHiddenLayers * config.KvHeads * config.HeadDimension * (long)context;
        return new LlamaMemoryEstimate(w, embed, kv, context);
    }

    /// <summary>Memory available to this process: /proc/meminfo's MemAvailable (free plus reclaimable cache, which holds
    /// a mapped model's pages) where there is one, capped by the GC's view (a container's limit less what is in use).</summary>
    public static long AvailableBytes()
    {
        var gc = GC.GetGCMemoryInfo();
        long gcFree = Math.Max(0, gc.TotalAvailableMemoryBytes - gc.MemoryLoadBytes);
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    long kb = long.Parse(parts[1], CultureInfo.InvariantCulture);
                    return gcFree > 0 ? Math.Min(kb * 1024, gcFree) : kb * 1024;
                }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { }
        return gcFree;
    }

    /// <summary>Throws, saying what is needed and what is available, when <see cref="TotalBytes"/> exceeds
    /// <paramref name="available"/>.</summary>
    public void EnsureFits(string model, long available)
    {
        if (TotalBytes <= available) return;
        string embed = EmbeddingCopyBytes > 0 ? $" + token embedding as f32 {Size(EmbeddingCopyBytes)}" : "";
        throw new TesseraException(
            $"{model}: the model needs about {Size(TotalBytes)} (weights {Size(WeightBytes)}{embed} + KV cache {Size(KvCacheBytes)} for {Context} positions), " +
            $"but {Size(available)} of memory is available. Use a shorter context or a smaller or quantized file (tessera convert --type q4_0).");
    }

    /// <summary>"1.5 GiB", "300 MiB".</summary>
    public static string Size(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
}
