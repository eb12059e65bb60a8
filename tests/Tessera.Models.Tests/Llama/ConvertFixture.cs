using System.Text.Json.Nodes;
using Tessera.Models.Conversion;

namespace Tessera.Models.Tests.Llama;

/// <summary>Test checkpoints for <see cref="LlamaGgufConverter"/>: a Hugging Face directory (random weights under the
/// published names, config.json, a Llama-2-style tokenizer) written from a random GGUF decoder, with an optional
/// <c>rope_scaling</c> patched into config.json.</summary>
public static class ConvertFixture
{
    /// <summary>Writes DIR/hf and returns its path.</summary>
    public static string HuggingFace(string dir, RandomLlamaShape shape, int seed, bool tied = false, string? ropeScalingJson = null)
    {
        Directory.CreateDirectory(dir);
        string gguf = Path.Combine(dir, "source.gguf"), hf = Path.Combine(dir, "hf");
        RandomLlamaGguf.Write(gguf, shape, seed, tied: tied);
        HfFromGguf.Write(gguf, shape, hf);
        File.Delete(gguf);
        HfTokenizerJson.Write(hf, shape.Vocab);
        if (ropeScalingJson is not null)
        {
            string cfg = Path.Combine(hf, "config.json");
            var node = JsonNode.Parse(File.ReadAllText(cfg))!.AsObject();
            node["rope_scaling"] = JsonNode.Parse(ropeScalingJson);
            File.WriteAllText(cfg, node.ToJsonString());
        }
        return hf;
    }

    /// <summary>The largest logit difference of two models over the same ids.</summary>
    public static double LogitDiff(Models.Llama a, Models.Llama b, int[] ids)
    {
        using var la = a.Forward(ids, null);
        using var lb = b.Forward(ids, null);
        return LlamaLogitsTests.MaxDiff(la.ToArray<float>(), lb.ToArray<float>());
    }

    public static string TempDir(string name) => Directory.CreateTempSubdirectory($"tessera-{name}-").FullName;
}
