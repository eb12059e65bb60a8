namespace Tessera.Formats.Configs;

/// <summary>The shape checks several configs share: heads that divide the width, patches that tile the image.</summary>
internal static class ConfigChecks
{
    /// <summary>A problem when <paramref name="heads"/> is not a positive divisor of <paramref name="hidden"/>.</summary>
    public static IEnumerable<(string Key, string Problem)> Heads(string key, int heads, int hidden)
    {
        if (heads <= 0 || hidden % heads != 0) yield return (key, $"is {heads}, expected a positive divisor of hidden_size {hidden}");
    }

    /// <summary>A problem when <paramref name="patch"/> is not a positive divisor of <paramref name="image"/>.</summary>
    public static IEnumerable<(string Key, string Problem)> Patch(string key, int patch, int image)
    {
        if (patch <= 0 || image % patch != 0) yield return (key, $"is {patch}, expected a positive divisor of image_size {image}");
    }

    /// <summary>The checks of a text tower and a vision tower (CLIP, SigLIP).</summary>
    public static IEnumerable<(string Key, string Problem)> TwoTowers(int textHeads, int textHidden, int visionHeads, int visionHidden, int patch, int image) =>
        Heads("text_config.num_attention_heads", textHeads, textHidden)
            .Concat(Heads("vision_config.num_attention_heads", visionHeads, visionHidden))
            .Concat(Patch("vision_config.patch_size", patch, image));
}
