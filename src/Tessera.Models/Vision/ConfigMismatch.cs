using Tessera.Formats;

namespace Tessera.Models.Vision;

/// <summary>Turns a tensor that does not fit a model's config into one error naming both: the tensor with its stored
/// and expected shapes (from <see cref="WeightBuilder"/>), and the config values the expectation came from.</summary>
internal static class ConfigMismatch
{
    /// <summary>Runs <paramref name="load"/>; a <see cref="WeightFormatException"/> from it is rethrown with
    /// <paramref name="config"/> (for example "vision_config: hidden_size 768, patch_size 32, image_size 224").</summary>
    public static T Check<T>(string model, string config, Func<T> load)
    {
        try { return load(); }
        catch (WeightFormatException e)
        {
            throw new TesseraException($"{model}: the checkpoint disagrees with config.json ({config}): {e.Message}", e);
        }
    }
}
