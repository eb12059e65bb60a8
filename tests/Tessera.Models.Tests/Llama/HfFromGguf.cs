using System.Globalization;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Formats.Safetensors;

namespace Tessera.Models.Tests.Llama;

/// <summary>Writes a Hugging Face directory (config.json, model.safetensors under the published names) from a random
/// f32 GGUF decoder, undoing llama.cpp's q/k row permutation for the "llama" architecture: the converter turns Hugging
/// Face's rotate-half rows (h, j, i) into interleaved rows (h, i, j); qwen2 keeps Hugging Face's rows.</summary>
public static class HfFromGguf
{
    public static void Write(string gguf, RandomLlamaShape s, string directory, int? slidingWindow = null, string? modelType = null)
    {
        Directory.CreateDirectory(directory);
        using var file = GgufFile.Open(gguf);
        using var cpu = new Tessera.Cpu.CpuBackend(new Tessera.Cpu.CpuBackendOptions(Threads: 1));
        int hd = s.Dim / s.Heads;
        var tensors = new List<WeightTensor>();
        foreach (var name in file.Names)
        {
            string hf = GgufLlamaNames.ToHuggingFace(name) ?? throw new InvalidOperationException($"no Hugging Face name for {name}");
            using var t = file.Load(name, cpu);
            var values = t.ToFloatArray();
            if (s.Arch == "llama" && name.EndsWith(".weight", StringComparison.Ordinal) && (name.Contains("attn_q.") || name.Contains("attn_k.")))
                values = Unpermute(values, t.Dim(0) / hd, hd, t.Dim(1));
            tensors.Add(WeightTensor.FromValues(hf, t.Shape.Dims.ToArray().Select(d => (long)d).ToArray(), values));
        }
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        string window = slidingWindow is { } w ? $", \"sliding_window\": {I(w)}" : "";
        File.WriteAllText(Path.Combine(directory, "config.json"),
            $"{{\"model_type\": \"{modelType ?? s.Arch}\", \"hidden_size\": {I(s.Dim)}, \"intermediate_size\": {I(s.Ffn)}, " +
            $"\"num_hidden_layers\": {I(s.Layers)}, \"num_attention_heads\": {I(s.Heads)}, \"num_key_value_heads\": {I(s.KvHeads)}, " +
            $"\"vocab_size\": {I(s.Vocab)}, \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"max_position_embeddings\": {I(s.Context)}, " +
            $"\"tie_word_embeddings\": {(file.Contains("output.weight") ? "false" : "true")}, \"bos_token_id\": 1, \"eos_token_id\": 2{window}}}");
    }

    // GGUF row h*hd + 2i + j holds Hugging Face row h*hd + j*hd/2 + i.
    private static float[] Unpermute(float[] w, int heads, int hd, int cols)
    {
        var r = new float[w.Length];
        int half = hd / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    Array.Copy(w, (h * hd + 2 * i + j) * cols, r, (h * hd + j * half + i) * cols, cols);
        return r;
    }
}
