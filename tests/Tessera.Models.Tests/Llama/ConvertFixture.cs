using System.Text.Json.Nodes;
using Tessera.Formats;
using Tessera.Formats.Gguf;
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

    /// <summary>Copies a "llama" GGUF file with only its first <paramref name="layers"/> blocks (block_count and the blk.*
    /// tensors cut; everything else byte for byte), to bisect a difference by layer.</summary>
    public static void KeepLayers(string source, string destination, int layers)
    {
        using var file = GgufFile.Open(source);
        string arch = file.Architecture();
        var w = new GgufWriter();
        foreach (var key in file.Keys) w.Add(key, key == arch + ".block_count" ? GgufValue.From((uint)layers) : file.Values[key]);
        using var handle = File.OpenHandle(source);
        foreach (var name in file.Names)
        {
            if (name.StartsWith("blk.", StringComparison.Ordinal) && int.Parse(name.Split('.')[1]) >= layers) continue;
            var info = file.Info(name);
            var bytes = new byte[info.ByteLength];
            RandomAccess.Read(handle, bytes, info.Offset);
            w.AddTensor(WeightTensor.FromBytes(name, info.DType!.Value, [.. info.Dims], bytes));
        }
        w.Write(destination);
    }

    public static string TempDir(string name) => Directory.CreateTempSubdirectory($"tessera-{name}-").FullName;
}
