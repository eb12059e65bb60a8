using Tessera.Formats;

namespace Tessera.Models.Vision;

/// <summary>Finds the weight files of a Hugging Face model directory.</summary>
public static class ModelDirectory
{
    /// <summary>The directory's weights: <c>model.safetensors</c>, a sharded <c>model.safetensors.index.json</c>, or
    /// <c>pytorch_model.bin</c> (read as data); an error naming the directory when there is none.</summary>
    public static string WeightFile(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new TesseraException($"{directory}: no such model directory");
        foreach (var name in new[] { "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin" })
        {
            string p = Path.Combine(directory, name);
            if (File.Exists(p)) return p;
        }
        throw new TesseraException($"{directory}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin");
    }

    /// <summary>A weight builder over the directory's weights, with the linear weights quantized at load when
    /// <paramref name="options"/> asks for it (<see cref="QuantizingWeightSource"/>).</summary>
    public static WeightBuilder OpenWeights(IBackend backend, string directory, VisionLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        string file = WeightFile(directory);
        if (options?.QuantizeLinears is not { } q) return WeightBuilder.Open(backend, file);
        var source = Tessera.Formats.WeightFile.Open(file);
        try { return WeightBuilder.FromSources(backend, [new QuantizingWeightSource(source, q)]); }
        catch
        {
            source.Dispose();
            throw;
        }
    }
}
