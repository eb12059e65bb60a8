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
}
